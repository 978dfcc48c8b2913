//! `AccountActor`: one per billing account per node. It caches what every request needs to know
//! about the account (tier and limits, payment state, members' roles, generations used this
//! month) and serialises the account's money movements: charges queue here and go to the store
//! in batches, one batch in flight at a time. Correctness across nodes does not depend on the
//! actor: every movement is a conditional write in the store (see `creo_store::ledger`).
//!
//! `Accounts` is the node's directory of these actors: it starts them on first use, and they stop
//! after `account_idle_ms` without messages.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use tokio::sync::oneshot;

use super::allowance::{Allowances, Spender};
use super::keyed::Keyed;
use crate::auth::Role;
use crate::billing::{month_start_ms, Action, Milli, TierLimits};
use crate::config::Config;
use crate::store::{now_ms, StoreError};
use crate::store::{
    Account, LedgerEntry, Posted, Posting, Reservation, ReservationStatus, Reserved, Settled,
    Settlement, Stores,
};

#[derive(Debug, Clone, thiserror::Error)]
pub enum AccountError {
    #[error("account does not exist")]
    NotFound,
    #[error("a failed payment blocks chargeable actions until a payment succeeds")]
    PaymentFailed,
    #[error("this month's generations are used up ({used} of {limit})")]
    QuotaExceeded { used: i64, limit: u32 },
    #[error("insufficient credits: {available} milli-credits available, {price} needed")]
    Insufficient { available: Milli, price: Milli },
    #[error("this Idempotency-Key was already used for a different request")]
    KeyConflict,
    #[error("no such reservation")]
    ReservationNotFound,
    #[error("the reservation was already settled differently")]
    AlreadySettled,
    #[error("verify your email address to spend more: {left} milli-credits of the unverified allowance are left")]
    Unverified { left: Milli },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a request needs to know about its account.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub account: Account,
    pub limits: TierLimits,
    /// The asking user's role, if they are a member.
    pub member_role: Option<Role>,
    pub generations_this_month: i64,
}

/// A debit or credit to make once.
#[derive(Debug, Clone)]
pub struct ChargeResult {
    pub entry: LedgerEntry,
    /// The idempotency key had been used for this same charge: nothing moved this time.
    pub replayed: bool,
}

struct Loaded {
    account: Account,
    members: HashMap<String, Role>,
    month_start: i64,
    generations: i64,
}

/// A settled reservation, its capture entry, and whether it was settled before.
type SettleResult = Result<(Reservation, Option<LedgerEntry>, bool), AccountError>;

/// A queued movement. Posts and reservations carry what was counted against their payer's
/// allowance when they were admitted (0 for a payer not held to one), to give exactly that back
/// if nothing moves.
enum MoneyOp {
    Post(
        Posting,
        Milli,
        oneshot::Sender<Result<ChargeResult, AccountError>>,
    ),
    Reserve(
        Reservation,
        Milli,
        oneshot::Sender<Result<(Reservation, bool), AccountError>>,
    ),
    Settle(String, Settlement, oneshot::Sender<SettleResult>),
}

fn stopped() -> AccountError {
    AccountError::Store(StoreError::Unavailable("account actor stopped".into()))
}

pub struct AccountActor {
    id: Arc<str>,
    stores: Stores,
    config: Arc<Config>,
    directory: Arc<Accounts>,
    /// `None` until loaded, or when the account does not exist (tokens minted by `creo token`
    /// for accounts nobody registered: not billed, not tier-limited).
    loaded: Option<Loaded>,
    load_error: Option<StoreError>,
    queue: VecDeque<MoneyOp>,
    busy: bool,
    last_used: Instant,
    /// What people with an unverified email have spent here (see `allowance`).
    allowances: Allowances,
    /// Holds this actor counted against an allowance: reservation id -> (payer, amount), to
    /// give back what a settlement does not take. Holds counted elsewhere (learnt from the
    /// ledger, or made through another node) stay counted here: the safe side.
    counted_holds: HashMap<String, (String, Milli)>,
    /// Generations in the batch the store is writing now, counted against the quota with the
    /// queued ones.
    in_flight_generations: i64,
}

impl AccountActor {
    fn limits(&self, account: &Account) -> TierLimits {
        account
            .custom_limits
            .clone()
            .unwrap_or_else(|| self.config.tiers.get(account.tier).clone())
    }

    fn reload(&mut self, ctx: &mut Context<Self>, blocking: bool) {
        let (stores, id) = (self.stores.clone(), self.id.clone());
        let spenders = self.allowances.people();
        let load = async move {
            let Some(account) = stores.accounts.account(&id).await? else {
                return Ok(None);
            };
            let members = stores.members.members(&id).await?;
            let month_start = month_start_ms(now_ms());
            let generations = stores
                .ledger
                .spent_since(&id, month_start)
                .await?
                .iter()
                .filter(|(action, _)| action.is_generation())
                .map(|(_, (count, _))| count)
                .sum();
            // What other nodes let the account's unverified spenders spend meanwhile.
            let mut spent = Vec::with_capacity(spenders.len());
            for user in spenders {
                let s = stores.ledger.spent_by(&id, &user).await?;
                spent.push((user, s));
            }
            Ok::<_, StoreError>(Some((
                Loaded {
                    account,
                    members: members.into_iter().map(|m| (m.user_id, m.role)).collect(),
                    month_start,
                    generations,
                },
                spent,
            )))
        };
        let apply = load.into_actor(self).map(|result, act, _| match result {
            Ok(loaded) => {
                let loaded = loaded.map(|(loaded, spent)| {
                    for (user, s) in spent {
                        act.allowances.at_least(&user, s);
                    }
                    loaded
                });
                act.loaded = loaded;
                act.load_error = None;
            }
            Err(e) => {
                tracing::warn!(account = %act.id, error = %e, "loading the account failed");
                act.load_error = Some(e);
            }
        });
        if blocking {
            ctx.wait(apply);
        } else {
            ctx.spawn(apply);
        }
    }

    fn view(&self, user: Option<&str>) -> Result<Option<AccountView>, AccountError> {
        if let Some(e) = &self.load_error {
            if self.loaded.is_none() {
                return Err(e.clone().into());
            }
        }
        Ok(self.loaded.as_ref().map(|l| AccountView {
            account: l.account.clone(),
            limits: self.limits(&l.account),
            member_role: user.and_then(|u| l.members.get(u).copied()),
            generations_this_month: l.generations,
        }))
    }

    /// Refusals decided from the cache before the store is asked: payment state and quota (a
    /// generation counts once, whatever its quantity).
    fn precheck(&self, action: Option<Action>, pending: i64) -> Result<(), AccountError> {
        let Some(l) = &self.loaded else {
            return Err(AccountError::NotFound);
        };
        if l.account.payment_failed {
            return Err(AccountError::PaymentFailed);
        }
        if action.is_some_and(Action::is_generation) {
            if let Some(limit) = self.limits(&l.account).monthly_generations {
                let used = l.generations + pending;
                if used + 1 > i64::from(limit) {
                    return Err(AccountError::QuotaExceeded { used, limit });
                }
            }
        }
        Ok(())
    }

    fn count_generations(&mut self, action: Option<Action>) {
        if let Some(l) = &mut self.loaded {
            let month = month_start_ms(now_ms());
            if month != l.month_start {
                l.month_start = month;
                l.generations = 0;
            }
            if action.is_some_and(Action::is_generation) {
                l.generations += 1;
            }
        }
    }

    /// Reads what `user` spent and holds here from the ledger, the first time an unverified
    /// person spends. (Two first requests at once both read it; the first answer is kept.)
    fn learn_spent(
        &self,
        user: String,
    ) -> impl ActorFuture<Self, Output = Result<(), AccountError>> {
        let (store, account) = (self.stores.ledger.clone(), self.id.clone());
        async move { store.spent_by(&account, &user).await.map(|s| (user, s)) }
            .into_actor(self)
            .map(|learnt, act, _| {
                let (user, spent) = learnt?;
                act.allowances.learn(&user, spent);
                Ok(())
            })
    }

    /// Whether `spender` must be counted against an allowance not read from the ledger yet.
    fn must_learn(&self, spender: Spender, user: &str) -> bool {
        spender == Spender::Unverified && !self.allowances.knows(user)
    }

    /// The checks a debit or hold of `amount` passes just before it is queued, so that no other
    /// message runs between them and the queue: payment state and quota from the cache, then the
    /// allowance of an unverified payer. Answers what was counted against that allowance.
    fn admit(
        &mut self,
        action: Option<Action>,
        spender: Spender,
        user: &str,
        amount: Milli,
    ) -> Result<Milli, AccountError> {
        if let Err(e) = self.precheck(action, self.queued_generations()) {
            metrics::counter!("creo_charges_refused_total", "reason" => refusal(&e)).increment(1);
            return Err(e);
        }
        if spender != Spender::Unverified || amount <= 0 {
            return Ok(0);
        }
        self.allowances.admit(user, amount).map_err(|left| {
            metrics::counter!("creo_charges_refused_total", "reason" => "email_unverified")
                .increment(1);
            AccountError::Unverified { left }
        })?;
        Ok(amount)
    }

    /// Admits and queues a posting (credits are not checked), answering its outcome.
    fn start_post(
        &mut self,
        p: Posting,
        spender: Spender,
        ctx: &mut Context<Self>,
    ) -> impl std::future::Future<Output = Result<ChargeResult, AccountError>> + 'static {
        let admitted = if p.amount_milli < 0 {
            self.admit(p.action, spender, &p.user_id, -p.amount_milli)
        } else {
            Ok(0)
        };
        let rx = admitted.map(|admitted| {
            let (reply, rx) = oneshot::channel();
            self.enqueue(MoneyOp::Post(p, admitted, reply), ctx);
            rx
        });
        async move { rx?.await.unwrap_or_else(|_| Err(stopped())) }
    }

    /// Admits and queues a hold, answering its outcome.
    fn start_reserve(
        &mut self,
        r: Reservation,
        spender: Spender,
        ctx: &mut Context<Self>,
    ) -> impl std::future::Future<Output = Result<(Reservation, bool), AccountError>> + 'static
    {
        let price = r.amount_milli;
        let rx = self
            .admit(Some(r.action), spender, &r.user_id, price)
            .map(|admitted| {
                let (reply, rx) = oneshot::channel();
                self.enqueue(MoneyOp::Reserve(r, admitted, reply), ctx);
                rx
            });
        async move {
            match rx?.await {
                Ok(Err(AccountError::Insufficient { available, .. })) => {
                    Err(AccountError::Insufficient { available, price })
                }
                Ok(other) => other,
                Err(_) => Err(stopped()),
            }
        }
    }

    /// Starts the next store round trip: every queued posting at the head of the queue as one
    /// batch, or one reservation or settlement.
    fn pump(&mut self, ctx: &mut Context<Self>) {
        if self.busy {
            return;
        }
        let Some(op) = self.queue.pop_front() else {
            return;
        };
        self.busy = true;
        match op {
            MoneyOp::Post(first, admitted, reply) => {
                let mut batch = vec![(first, admitted, reply)];
                while batch.len() < self.config.charge_batch.max(1) {
                    match self.queue.front() {
                        Some(MoneyOp::Post(..)) => {}
                        _ => break,
                    }
                    if let Some(MoneyOp::Post(p, a, r)) = self.queue.pop_front() {
                        batch.push((p, a, r));
                    }
                }
                self.post_batch(batch, ctx);
            }
            MoneyOp::Reserve(r, admitted, reply) => {
                let store = self.stores.ledger.clone();
                let payer = r.user_id.clone();
                async move { store.reserve(&r).await }
                    .into_actor(self)
                    .map(move |result, act, ctx| {
                        // Nothing new is held (a replay, or refused). A store error may hide a
                        // hold that was made: the count stays.
                        match &result {
                            Ok(Reserved::Held(r)) if admitted > 0 => {
                                act.counted_holds
                                    .insert(r.reservation_id.clone(), (payer, admitted));
                            }
                            Ok(Reserved::Held(_)) | Err(_) => {}
                            Ok(_) => act.allowances.give_back(&payer, admitted),
                        }
                        let answer = match result {
                            Ok(Reserved::Held(r)) => Ok((r, false)),
                            Ok(Reserved::Replayed(r)) => Ok((r, true)),
                            Ok(Reserved::Insufficient { available }) => {
                                Err(AccountError::Insufficient {
                                    available,
                                    price: 0,
                                })
                            }
                            Ok(Reserved::KeyConflict) => Err(AccountError::KeyConflict),
                            Err(e) => Err(e.into()),
                        };
                        let _ = reply.send(answer);
                        act.done(ctx);
                    })
                    .spawn(ctx);
            }
            MoneyOp::Settle(id, how, reply) => {
                let (store, account) = (self.stores.ledger.clone(), self.id.clone());
                async move { store.settle(&account, &id, how, now_ms()).await }
                    .into_actor(self)
                    .map(move |result, act, ctx| {
                        let answer = match result {
                            Ok(Settled::Done(r, e)) => {
                                if let Some(e) = &e {
                                    act.count_generations(e.action);
                                }
                                // What this actor counted for the hold and the capture did not take.
                                if r.status != ReservationStatus::Held {
                                    if let Some((payer, counted)) =
                                        act.counted_holds.remove(&r.reservation_id)
                                    {
                                        let taken = e.as_ref().map_or(0, |e| -e.amount_milli);
                                        act.allowances
                                            .give_back(&payer, counted - taken.min(counted));
                                    }
                                }
                                Ok((r, e, false))
                            }
                            Ok(Settled::Replayed(r, e)) => Ok((r, e, true)),
                            Ok(Settled::NotFound) => Err(AccountError::ReservationNotFound),
                            Ok(Settled::Conflict(_)) => Err(AccountError::AlreadySettled),
                            Err(e) => Err(e.into()),
                        };
                        let _ = reply.send(answer);
                        act.done(ctx);
                    })
                    .spawn(ctx);
            }
        }
    }

    fn post_batch(
        &mut self,
        batch: Vec<(
            Posting,
            Milli,
            oneshot::Sender<Result<ChargeResult, AccountError>>,
        )>,
        ctx: &mut Context<Self>,
    ) {
        metrics::histogram!("creo_charge_batch_size").record(batch.len() as f64);
        let mut postings = Vec::with_capacity(batch.len());
        let mut admitted = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for (p, a, r) in batch {
            admitted.push(a);
            replies.push(r);
            postings.push(p);
        }
        let prices: Vec<Milli> = postings.iter().map(|p| -p.amount_milli).collect();
        let payers: Vec<String> = postings.iter().map(|p| p.user_id.clone()).collect();
        self.in_flight_generations = postings
            .iter()
            .filter(|p| p.amount_milli < 0 && p.action.is_some_and(Action::is_generation))
            .count() as i64;
        let store = self.stores.ledger.clone();
        async move { store.post(postings).await }
            .into_actor(self)
            .map(move |result, act, ctx| {
                act.in_flight_generations = 0;
                match result {
                    Ok(outcomes) => {
                        for ((((outcome, reply), price), payer), admitted) in outcomes.into_iter().zip(replies).zip(prices).zip(&payers).zip(admitted) {
                            if !matches!(outcome, Posted::Applied(_)) {
                                act.allowances.give_back(payer, admitted);
                            }
                            let answer = match outcome {
                                Posted::Applied(entry) => {
                                    act.count_generations(entry.action);
                                    metrics::counter!("creo_ledger_entries_total", "kind" => entry.kind.as_str()).increment(1);
                                    Ok(ChargeResult { entry, replayed: false })
                                }
                                Posted::Replayed(entry) => Ok(ChargeResult { entry, replayed: true }),
                                Posted::Insufficient { available } => {
                                    metrics::counter!("creo_charges_refused_total", "reason" => "insufficient").increment(1);
                                    Err(AccountError::Insufficient { available, price })
                                }
                                Posted::KeyConflict => Err(AccountError::KeyConflict),
                            };
                            let _ = reply.send(answer);
                        }
                    }
                    // The batch may have landed before the error: the allowance keeps its count.
                    Err(e) => {
                        for reply in replies {
                            let _ = reply.send(Err(e.clone().into()));
                        }
                    }
                }
                act.done(ctx);
            })
            .spawn(ctx);
    }

    fn done(&mut self, ctx: &mut Context<Self>) {
        self.busy = false;
        self.pump(ctx);
    }

    fn enqueue(&mut self, op: MoneyOp, ctx: &mut Context<Self>) {
        self.queue.push_back(op);
        self.pump(ctx);
    }

    /// Generations queued or being written, counted against the quota before they land.
    fn queued_generations(&self) -> i64 {
        let queued: i64 = self
            .queue
            .iter()
            .map(|op| match op {
                MoneyOp::Post(p, ..) if p.action.is_some_and(Action::is_generation) => 1,
                _ => 0,
            })
            .sum();
        self.in_flight_generations + queued
    }

    /// Releases reservations whose holder never settled them (a crashed job).
    fn release_expired(&mut self, ctx: &mut Context<Self>) {
        if self.loaded.is_none() {
            return;
        }
        let (store, id) = (self.stores.ledger.clone(), self.id.clone());
        async move { store.expired_reservations(&id, now_ms()).await }
            .into_actor(self)
            .map(|result, act, ctx| {
                for r in result.unwrap_or_default() {
                    let (reply, _) = oneshot::channel();
                    tracing::info!(account = %act.id, reservation = %r.reservation_id, "releasing an expired reservation");
                    act.enqueue(MoneyOp::Settle(r.reservation_id, Settlement::Release, reply), ctx);
                }
            })
            .spawn(ctx);
    }
}

impl Actor for AccountActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        metrics::gauge!("creo_account_actors").increment(1.0);
        self.reload(ctx, true);
        let every = Duration::from_millis(self.config.account_refresh_ms.max(100));
        ctx.run_interval(every, |act, ctx| {
            act.reload(ctx, false);
            act.release_expired(ctx);
        });
        let idle = Duration::from_millis(self.config.account_idle_ms.max(1_000));
        ctx.run_interval(idle / 2, move |act, ctx| {
            if !act.busy && act.queue.is_empty() && act.last_used.elapsed() >= idle {
                ctx.stop();
            }
        });
    }

    fn stopped(&mut self, ctx: &mut Context<Self>) {
        metrics::gauge!("creo_account_actors").decrement(1.0);
        self.directory.live.forget(&self.id, &ctx.address());
    }
}

/// What a request needs to know about the account (and the asking user's membership).
#[derive(Message, Clone)]
#[rtype(result = "Result<Option<AccountView>, AccountError>")]
pub struct Lookup {
    pub user: Option<Arc<str>>,
}

impl Handler<Lookup> for AccountActor {
    type Result = Result<Option<AccountView>, AccountError>;

    fn handle(&mut self, msg: Lookup, _: &mut Context<Self>) -> Self::Result {
        self.last_used = Instant::now();
        self.view(msg.user.as_deref())
    }
}

/// Reload the cached account now (its tier, payment state or members changed).
#[derive(Message, Clone)]
#[rtype(result = "()")]
pub struct Refresh;

impl Handler<Refresh> for AccountActor {
    type Result = ();

    fn handle(&mut self, _: Refresh, ctx: &mut Context<Self>) {
        self.reload(ctx, true);
    }
}

/// Post a ledger movement. Debits are checked against payment state, quota, the allowance of an
/// unverified payer, and balance.
#[derive(Message, Clone)]
#[rtype(result = "Result<ChargeResult, AccountError>")]
pub struct Post(pub Posting, pub Spender);

impl Handler<Post> for AccountActor {
    type Result = ResponseActFuture<Self, Result<ChargeResult, AccountError>>;

    fn handle(&mut self, msg: Post, ctx: &mut Context<Self>) -> Self::Result {
        self.last_used = Instant::now();
        let Post(p, spender) = msg;
        if p.amount_milli >= 0 || !self.must_learn(spender, &p.user_id) {
            return Box::pin(fut::wrap_future(self.start_post(p, spender, ctx)));
        }
        // Other messages run while the ledger is read: the checks wait until it answers.
        Box::pin(
            self.learn_spent(p.user_id.clone())
                .then(move |learnt, act, ctx| {
                    let started = learnt.map(|()| act.start_post(p, spender, ctx));
                    fut::wrap_future(async move { started?.await })
                }),
        )
    }
}

/// Hold credits for a long operation (checked as a debit of the whole hold).
#[derive(Message, Clone)]
#[rtype(result = "Result<(Reservation, bool), AccountError>")]
pub struct Reserve(pub Reservation, pub Spender);

impl Handler<Reserve> for AccountActor {
    type Result = ResponseActFuture<Self, Result<(Reservation, bool), AccountError>>;

    fn handle(&mut self, msg: Reserve, ctx: &mut Context<Self>) -> Self::Result {
        self.last_used = Instant::now();
        let Reserve(r, spender) = msg;
        if !self.must_learn(spender, &r.user_id) {
            return Box::pin(fut::wrap_future(self.start_reserve(r, spender, ctx)));
        }
        Box::pin(
            self.learn_spent(r.user_id.clone())
                .then(move |learnt, act, ctx| {
                    let started = learnt.map(|()| act.start_reserve(r, spender, ctx));
                    fut::wrap_future(async move { started?.await })
                }),
        )
    }
}

/// Capture or release a reservation. Never refused for payment state or quota: the work was
/// admitted when it was reserved.
#[derive(Message, Clone)]
#[rtype(result = "SettleResult")]
pub struct Settle {
    pub reservation_id: String,
    pub how: Settlement,
}

impl Handler<Settle> for AccountActor {
    type Result = ResponseFuture<SettleResult>;

    fn handle(&mut self, msg: Settle, ctx: &mut Context<Self>) -> Self::Result {
        self.last_used = Instant::now();
        let (reply, rx) = oneshot::channel();
        self.enqueue(MoneyOp::Settle(msg.reservation_id, msg.how, reply), ctx);
        Box::pin(async move { rx.await.unwrap_or_else(|_| Err(stopped())) })
    }
}

fn refusal(e: &AccountError) -> &'static str {
    match e {
        AccountError::PaymentFailed => "payment_failed",
        AccountError::QuotaExceeded { .. } => "quota",
        AccountError::NotFound => "no_account",
        AccountError::Unverified { .. } => "email_unverified",
        _ => "other",
    }
}

/// The node's account actors.
pub struct Accounts {
    live: Keyed<AccountActor>,
    stores: Stores,
    config: Arc<Config>,
}

impl Accounts {
    pub fn new(stores: Stores, config: Arc<Config>) -> Arc<Accounts> {
        Arc::new(Accounts {
            live: Keyed::default(),
            stores,
            config,
        })
    }

    fn get_or_start(self: &Arc<Self>, account: &str) -> Addr<AccountActor> {
        self.live.get_or_start(account, |id| self.start(id))
    }

    fn start(self: &Arc<Self>, id: Arc<str>) -> Addr<AccountActor> {
        AccountActor {
            id,
            stores: self.stores.clone(),
            config: self.config.clone(),
            directory: self.clone(),
            loaded: None,
            load_error: None,
            queue: VecDeque::new(),
            busy: false,
            last_used: Instant::now(),
            allowances: Allowances::new(self.config.unverified_allowance_milli),
            counted_holds: HashMap::new(),
            in_flight_generations: 0,
        }
        .start()
    }

    /// Sends a message to the account's actor, starting one if needed (and again if the one
    /// found stopped for idleness in between).
    pub async fn ask<M, R>(self: &Arc<Self>, account: &str, msg: M) -> Result<R, AccountError>
    where
        M: Message<Result = Result<R, AccountError>> + Send + Clone + 'static,
        R: Send + 'static,
        AccountActor: Handler<M>,
    {
        for _ in 0..3 {
            let addr = self.get_or_start(account);
            match addr.send(msg.clone()).await {
                Ok(result) => return result,
                Err(_) => self.live.forget(account, &addr),
            }
        }
        Err(AccountError::Store(StoreError::Unavailable(
            "account actor unavailable".into(),
        )))
    }

    pub async fn lookup(
        self: &Arc<Self>,
        account: &str,
        user: Option<Arc<str>>,
    ) -> Result<Option<AccountView>, AccountError> {
        self.ask(account, Lookup { user }).await
    }

    /// Reloads the account's cached copy on this node, if it has one.
    pub fn refresh(&self, account: &str) {
        if let Some(addr) = self.live.get(account) {
            addr.do_send(Refresh);
        }
    }
}
