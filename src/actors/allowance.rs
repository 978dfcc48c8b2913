//! What people whose email is unverified may spend of one account: at most `limit`
//! milli-credits, counted as their charges and holds are admitted (so two requests at once
//! cannot both slip under it), and given back when nothing moved (refused or replayed) or a hold
//! this actor counted is released or captured for less. What a person spent and holds before the
//! actor started is read from the ledger the first time they spend (`learn`). The account actor
//! owns one, so the count is exact on one node. With several nodes each counts its own
//! admissions and reads the ledger again at every account refresh (`at_least`), so a person
//! spending through every node at once can pass the limit by what the other nodes admitted
//! since the last refresh (`account_refresh_ms`).

use std::collections::HashMap;

use crate::billing::Milli;

/// Whether the person paying has proved their email address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spender {
    /// Verified, or nobody needs to be (email is off, or an API key or app token pays).
    Trusted,
    /// Held to the allowance.
    Unverified,
}

#[derive(Debug, Default)]
pub struct Allowances {
    limit: Milli,
    spent: HashMap<String, Milli>,
}

impl Allowances {
    pub fn new(limit: Milli) -> Allowances {
        Allowances {
            limit,
            spent: HashMap::new(),
        }
    }

    pub fn knows(&self, user: &str) -> bool {
        self.spent.contains_key(user)
    }

    /// What the ledger says `user` spent, the first time they spend here.
    pub fn learn(&mut self, user: &str, spent: Milli) {
        self.spent.entry(user.to_string()).or_insert(spent);
    }

    /// The people counted here, to read again from the ledger now and then.
    pub fn people(&self) -> Vec<String> {
        self.spent.keys().cloned().collect()
    }

    /// What the ledger says now, when it is more than this count (spent through other nodes).
    pub fn at_least(&mut self, user: &str, spent: Milli) {
        if let Some(count) = self.spent.get_mut(user) {
            *count = (*count).max(spent);
        }
    }

    /// Counts `amount` against `user`'s allowance, or says how much of it is left.
    pub fn admit(&mut self, user: &str, amount: Milli) -> Result<(), Milli> {
        let spent = self.spent.entry(user.to_string()).or_insert(0);
        if *spent + amount > self.limit {
            return Err((self.limit - *spent).max(0));
        }
        *spent += amount;
        Ok(())
    }

    /// An admitted amount that did not move after all.
    pub fn give_back(&mut self, user: &str, amount: Milli) {
        if let Some(spent) = self.spent.get_mut(user) {
            *spent = (*spent - amount).max(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spending_stops_at_the_limit_and_what_did_not_move_comes_back() {
        let mut a = Allowances::new(2_000);
        assert!(!a.knows("u"));
        a.learn("u", 500);
        assert!(a.knows("u"));
        assert_eq!(a.admit("u", 1_000), Ok(()));
        assert_eq!(a.admit("u", 1_000), Err(500), "500 left, 1,000 asked");
        a.give_back("u", 1_000);
        assert_eq!(a.admit("u", 1_500), Ok(()));
        assert_eq!(a.admit("u", 1), Err(0));
        // Learning again keeps the count the actor made; the ledger only ever raises it.
        a.learn("u", 0);
        assert_eq!(a.admit("u", 1), Err(0));
        a.give_back("u", 1_000);
        a.at_least("u", 500);
        assert_eq!(a.admit("u", 1_001), Err(1_000), "still 1,000 counted here");
        a.at_least("u", 1_800);
        assert_eq!(a.admit("u", 201), Err(200), "the ledger knows more");
        a.at_least("nobody", 5);
        assert!(!a.knows("nobody"));
    }
}
