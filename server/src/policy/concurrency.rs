//! How many calls run at once: per user, and on the whole server.
//!
//! Each call holds a slot from the moment it is admitted until its result (and audit event) is
//! done. A user at their cap is refused at once with a clear error instead of queueing: an agent
//! that fans out 50 calls gets most of them back as "wait", and one user's burst can never take
//! the blocking threads (or the memory of many large answers) that other users need. Calls
//! inside a pipeline run one after another on their pipeline's slot.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

/// Calls one user may have running at once, by default.
pub const DEFAULT_PER_USER: usize = 8;
/// Calls the server runs at once over all users, by default.
pub const DEFAULT_TOTAL: usize = 64;

/// The caps and who holds what.
#[derive(Debug)]
pub struct CallSlots {
    per_user: usize,
    total: usize,
    held: Arc<Mutex<Held>>,
}

#[derive(Debug, Default)]
struct Held {
    by_user: HashMap<String, usize>,
    total: usize,
}

/// Which cap a call met.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    /// The user already runs this many calls.
    User(usize),
    /// The server already runs this many calls.
    Server(usize),
}

impl Default for CallSlots {
    fn default() -> Self {
        Self::new(DEFAULT_PER_USER, DEFAULT_TOTAL)
    }
}

impl CallSlots {
    pub fn new(per_user: usize, total: usize) -> Self {
        Self {
            per_user,
            total,
            held: Arc::new(Mutex::new(Held::default())),
        }
    }

    /// A slot for one of `user`'s calls, or which cap is full.
    pub fn take(&self, user: &str) -> Result<CallSlot, Busy> {
        // Counters only: a panic elsewhere cannot leave them half-updated.
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let mine = held.by_user.get(user).copied().unwrap_or(0);
        if mine >= self.per_user {
            return Err(Busy::User(self.per_user));
        }
        if held.total >= self.total {
            return Err(Busy::Server(self.total));
        }
        held.total += 1;
        *held.by_user.entry(user.to_owned()).or_insert(0) += 1;
        Ok(CallSlot {
            held: Arc::clone(&self.held),
            user: user.to_owned(),
        })
    }

    /// Calls running now (for tests and metrics).
    pub fn running(&self) -> usize {
        self.held
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total
    }
}

/// A running call's slot; given back when dropped.
#[derive(Debug)]
pub struct CallSlot {
    held: Arc<Mutex<Held>>,
    user: String,
}

impl Drop for CallSlot {
    fn drop(&mut self) {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        held.total = held.total.saturating_sub(1);
        if let Some(n) = held.by_user.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                // Users who are not calling hold no entry: the map stays as small as the load.
                held.by_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_per_user_and_in_total_and_slots_come_back() {
        let slots = CallSlots::new(2, 3);
        let a1 = slots.take("alice").expect("first");
        let _a2 = slots.take("alice").expect("second");
        assert_eq!(slots.take("alice").err(), Some(Busy::User(2)));
        let _b1 = slots.take("bob").expect("bob is not alice");
        assert_eq!(slots.take("carol").err(), Some(Busy::Server(3)));
        drop(a1);
        assert_eq!(slots.running(), 2);
        let _c1 = slots.take("carol").expect("a slot came back");
        assert_eq!(slots.take("alice").err(), Some(Busy::Server(3)));
    }
}
