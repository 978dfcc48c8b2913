//! Telling people: who hears about what (`recipients.rs` decides for each event), one
//! notification per person in their inbox, at once on their open inbox streams (every node,
//! through the bus), and by email as a job (one per notification, or one per digest window).
//!
//! Notifying is never the caller's failure: the action it describes already happened. A
//! failure to store or queue is logged and counted (`creo_notifications_lost_total`).

pub mod recipients;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use creo_core::jobs::{Job, JobKind, Mail};
use creo_core::notifications::{digest_due, Digest, Kind, Notification, Settings};

use crate::bus::Bus;
use crate::queue::JobQueue;
use crate::store::{now_ms, Stores};

/// The accounts whose notifications `user` may see now: those they are a member of, and `""`
/// (notifications of no account: invitations). The inbox and the mail jobs both read it.
pub async fn visible_accounts(
    stores: &Stores,
    user: &str,
) -> Result<HashSet<String>, crate::store::StoreError> {
    let mut accounts: HashSet<String> = stores
        .members
        .memberships(user)
        .await?
        .into_iter()
        .map(|m| m.account_id)
        .collect();
    accounts.insert(String::new());
    Ok(accounts)
}

/// `user`'s notification settings (the defaults when they set none).
pub async fn settings_of(
    stores: &Stores,
    user: &str,
) -> Result<Settings, crate::store::StoreError> {
    Ok(stores
        .notifications
        .notification_settings(&[user.to_string()])
        .await?
        .pop()
        .map(|(_, s)| s)
        .unwrap_or_default())
}

/// How email notifications are batched, and whether there is email at all.
#[derive(Debug, Clone)]
pub struct MailPolicy {
    pub enabled: bool,
    pub hour_ms: i64,
    pub day_ms: i64,
}

/// What happened, before it is addressed to anyone.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub account_id: String,
    /// Who did it (`Principal::actor`, or `system`).
    pub actor: String,
    pub doc_id: Option<String>,
    pub text: String,
    /// Where the notification leads, when not to its document (or the documents page).
    pub link: Option<String>,
}

pub struct Notifier {
    stores: Stores,
    jobs: Arc<JobQueue>,
    bus: Arc<Bus>,
    mail: MailPolicy,
    /// Digests this process already queued (person, due time): later notifications of the
    /// same window ride the same job. Forgotten once due.
    digests: Mutex<HashSet<(String, i64)>>,
}

/// An event on a person's inbox stream.
#[derive(serde::Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Live<'a> {
    /// A new notification (the editor adds one to its unread count).
    Notification { notification: &'a Notification },
    /// The unread count changed some other way (read, unread, deleted, all read).
    Changed,
}

impl Notifier {
    pub fn new(stores: Stores, jobs: Arc<JobQueue>, bus: Arc<Bus>, mail: MailPolicy) -> Notifier {
        Notifier {
            stores,
            jobs,
            bus,
            mail,
            digests: Mutex::default(),
        }
    }

    pub fn mail_enabled(&self) -> bool {
        self.mail.enabled
    }

    /// Files one notification per recipient (each with its kind), for the account's current
    /// members only and never for the one who acted, then tells their open streams and queues
    /// their email. Returns how many were filed.
    pub async fn notify(&self, draft: &Draft, recipients: Vec<(String, Kind)>) -> usize {
        match self.try_notify(draft, recipients).await {
            Ok(n) => n,
            Err(e) => {
                metrics::counter!("creo_notifications_lost_total").increment(1);
                tracing::warn!(account = %draft.account_id, error = %e, "notifications were not filed");
                0
            }
        }
    }

    async fn try_notify(
        &self,
        draft: &Draft,
        recipients: Vec<(String, Kind)>,
    ) -> Result<usize, crate::store::StoreError> {
        let members: HashSet<String> = self
            .stores
            .members
            .members(&draft.account_id)
            .await?
            .into_iter()
            .map(|m| m.user_id)
            .collect();
        let mut seen = HashSet::new();
        let recipients: Vec<(String, Kind)> = recipients
            .into_iter()
            .filter(|(who, kind)| {
                who != &draft.actor
                    && (members.contains(who) || *kind == Kind::Invited)
                    && seen.insert(who.clone())
            })
            .collect();
        if recipients.is_empty() {
            return Ok(0);
        }
        let ids: Vec<String> = recipients.iter().map(|(w, _)| w.clone()).collect();
        let settings: HashMap<String, Settings> = self
            .stores
            .notifications
            .notification_settings(&ids)
            .await?
            .into_iter()
            .collect();
        let actor_name = self.actor_name(&draft.actor).await;
        let doc_title = match &draft.doc_id {
            Some(d) => self
                .stores
                .documents
                .meta(d)
                .await
                .ok()
                .flatten()
                .map(|m| m.title)
                .unwrap_or_default(),
            None => String::new(),
        };
        let link = match (&draft.link, &draft.doc_id) {
            (Some(link), _) => link.clone(),
            (None, Some(d)) => format!("/#/w/{}/doc/{d}", draft.account_id),
            (None, None) => "/#/".to_string(),
        };
        let now = now_ms();
        let default = Settings::default();
        let mut filed = Vec::new();
        let mut mails = Vec::new();
        for (user_id, kind) in recipients {
            let s = settings.get(&user_id).unwrap_or(&default);
            let channels = s.channels(kind);
            let emailed = self.mail.enabled && s.emails(kind);
            if !channels.in_app && !emailed {
                continue;
            }
            let n = Notification {
                notification_id: uuid::Uuid::now_v7().simple().to_string(),
                user_id,
                // An invitation is the person's own news, before they are a member: it belongs
                // to no account, so it shows (and counts) whatever their memberships.
                account_id: if kind == Kind::Invited {
                    String::new()
                } else {
                    draft.account_id.clone()
                },
                kind,
                actor: draft.actor.clone(),
                actor_name: actor_name.clone(),
                doc_id: draft.doc_id.clone(),
                doc_title: doc_title.clone(),
                text: draft.text.clone(),
                link: link.clone(),
                created_at: now,
                read_at: None,
                in_app: channels.in_app,
                by_digest: emailed && s.digest != Digest::Immediately,
            };
            if emailed {
                mails.push((n.user_id.clone(), n.notification_id.clone(), s.digest));
            }
            filed.push(n);
        }
        self.stores.notifications.add_notifications(&filed).await?;
        for n in filed.iter().filter(|n| n.in_app) {
            metrics::counter!("creo_notifications_total", "kind" => n.kind.as_str()).increment(1);
            self.tell(&n.user_id, &Live::Notification { notification: n });
        }
        for (user_id, notification_id, digest) in mails {
            self.queue_mail(user_id, notification_id, digest, now).await;
        }
        Ok(filed.len())
    }

    /// Tells `user`'s open inbox streams, on every node.
    pub fn tell(&self, user: &str, event: &Live<'_>) {
        let json = serde_json::to_string(event).expect("live events serialise");
        self.bus.to_person(user, json);
    }

    async fn queue_mail(&self, user_id: String, notification_id: String, digest: Digest, now: i64) {
        let job = match digest_due(digest, now, self.mail.hour_ms, self.mail.day_ms) {
            None => Job {
                id: format!("mail-{notification_id}"),
                kind: JobKind::Mail {
                    user_id,
                    mail: Mail::Notification { notification_id },
                },
                not_before: 0,
                attempt: 0,
            },
            Some(due) => {
                {
                    let mut queued = self.digests.lock().expect("digest set");
                    queued.retain(|(_, d)| *d > now);
                    if !queued.insert((user_id.clone(), due)) {
                        return;
                    }
                }
                let window = match digest {
                    Digest::Daily => self.mail.day_ms,
                    _ => self.mail.hour_ms,
                };
                Job {
                    id: format!("mail-digest-{user_id}-{due}"),
                    kind: JobKind::Mail {
                        user_id,
                        mail: Mail::Digest {
                            from: due - window,
                            to: due,
                        },
                    },
                    not_before: due,
                    attempt: 0,
                }
            }
        };
        self.queue(&job).await;
    }

    /// Queues a mail job; a failure is logged and counted.
    pub async fn queue(&self, job: &Job) {
        if let Err(e) = self.jobs.enqueue(job).await {
            metrics::counter!("creo_mail_lost_total").increment(1);
            tracing::error!(job = %job.id, error = %e, "a mail job could not be queued");
        }
    }

    /// How a notification names who did it.
    async fn actor_name(&self, actor: &str) -> String {
        if actor == "system" {
            return "creo".into();
        }
        if actor.starts_with("apikey:") {
            return "An API key".into();
        }
        match self.stores.users.user(actor).await {
            Ok(Some(u)) if !u.name.trim().is_empty() => u.name,
            Ok(Some(u)) => u.email.split('@').next().unwrap_or("Someone").to_string(),
            _ => "Someone".into(),
        }
    }

    pub fn stores(&self) -> &Stores {
        &self.stores
    }
}
