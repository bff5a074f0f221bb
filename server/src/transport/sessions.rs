//! Who opened each MCP session, and how many each user holds open.
//!
//! A session is bound to the user who opened it: a request on it with another user's (valid)
//! token is refused, so a session id that leaks cannot be used to read another user's stream
//! or mix two users' calls in one session. Each user may hold at most `cap` sessions (each one
//! is a task and buffers in rmcp, about 50 KiB): the next `initialize` is refused until one is
//! closed (DELETE) or expires. Expiry happens inside rmcp's session manager, so the table asks
//! it which of a user's sessions still exist when that user reaches the cap.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};

use rmcp::transport::streamable_http_server::session::SessionManager;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

/// The session table; shares rmcp's session manager to learn which sessions still exist.
pub struct Sessions {
    manager: Arc<LocalSessionManager>,
    cap: usize,
    table: Mutex<Table>,
}

#[derive(Default)]
struct Table {
    /// Session id → the user who opened it.
    owners: HashMap<String, String>,
    /// User → their open sessions, and `initialize` requests of theirs still in flight.
    users: HashMap<String, UserSessions>,
}

#[derive(Default)]
struct UserSessions {
    open: HashSet<String>,
    pending: usize,
}

impl UserSessions {
    fn held(&self) -> usize {
        self.open.len() + self.pending
    }
}

impl Table {
    fn remove(&mut self, session: &str) {
        let Some(owner) = self.owners.remove(session) else {
            return;
        };
        if let Some(user) = self.users.get_mut(&owner) {
            user.open.remove(session);
            if user.held() == 0 {
                self.users.remove(&owner);
            }
        }
    }
}

/// A session slot held for one `initialize` until its answer shows whether a session opened:
/// [`Reservation::bind`] it, or drop it to give the slot back.
pub struct Reservation {
    sessions: Arc<Sessions>,
    user: String,
    bound: bool,
}

impl Reservation {
    /// Records that `session` was opened by the reserving user.
    pub fn bind(mut self, session: &str) {
        let mut table = self.sessions.lock();
        let user = table.users.entry(self.user.clone()).or_default();
        user.pending = user.pending.saturating_sub(1);
        user.open.insert(session.to_owned());
        table.owners.insert(session.to_owned(), self.user.clone());
        self.bound = true;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.bound {
            return;
        }
        let mut table = self.sessions.lock();
        if let Some(user) = table.users.get_mut(&self.user) {
            user.pending = user.pending.saturating_sub(1);
            if user.held() == 0 {
                table.users.remove(&self.user);
            }
        }
    }
}

impl Sessions {
    /// A table allowing each user `cap` open sessions (at least one).
    pub fn new(manager: Arc<LocalSessionManager>, cap: usize) -> Self {
        Self {
            manager,
            cap: cap.max(1),
            table: Mutex::new(Table::default()),
        }
    }

    /// Sessions rmcp serves now.
    pub async fn open(&self) -> usize {
        self.manager.sessions.read().await.len()
    }

    /// Sessions each user may hold open.
    pub fn cap(&self) -> usize {
        self.cap
    }

    fn lock(&self) -> MutexGuard<'_, Table> {
        // Plain maps updated in single steps: a panic elsewhere cannot leave them inconsistent.
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether rmcp still serves `session` (not closed, not expired).
    pub async fn exists(&self, session: &str) -> bool {
        let id: Arc<str> = Arc::from(session);
        // The local manager's lookup cannot fail; treat a failure as "gone", like rmcp's 404.
        self.manager.has_session(&id).await.unwrap_or(false)
    }

    /// The owner of `session` when it is someone other than `user`.
    pub fn other_owner(&self, session: &str, user: &str) -> Option<String> {
        self.lock()
            .owners
            .get(session)
            .filter(|owner| *owner != user)
            .cloned()
    }

    /// Forgets a closed or vanished session, freeing its owner's slot.
    pub fn forget(&self, session: &str) {
        self.lock().remove(session);
    }

    /// A slot for a new session of `user`, or `Err(open)` when they already hold the cap.
    pub async fn reserve(self: &Arc<Self>, user: &str) -> Result<Reservation, usize> {
        if let Some(reservation) = self.try_reserve(user) {
            return Ok(reservation);
        }
        // At the cap: drop the sessions rmcp has closed meanwhile (idle expiry), then retry.
        let theirs: Vec<String> = self
            .lock()
            .users
            .get(user)
            .map(|u| u.open.iter().cloned().collect())
            .unwrap_or_default();
        let mut gone = Vec::new();
        for session in theirs {
            if !self.exists(&session).await {
                gone.push(session);
            }
        }
        {
            let mut table = self.lock();
            for session in &gone {
                table.remove(session);
            }
        }
        self.try_reserve(user)
            .ok_or_else(|| self.lock().users.get(user).map_or(0, |u| u.open.len()))
    }

    fn try_reserve(self: &Arc<Self>, user: &str) -> Option<Reservation> {
        let mut table = self.lock();
        let entry = table.users.entry(user.to_owned()).or_default();
        if entry.held() >= self.cap {
            return None;
        }
        entry.pending += 1;
        Some(Reservation {
            sessions: Arc::clone(self),
            user: user.to_owned(),
            bound: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sessions(cap: usize) -> Arc<Sessions> {
        Arc::new(Sessions::new(Arc::new(LocalSessionManager::default()), cap))
    }

    /// A session that exists in rmcp's manager.
    async fn open(s: &Sessions) -> String {
        let (id, _transport) = s.manager.create_session().await.expect("create");
        id.to_string()
    }

    #[tokio::test]
    async fn the_cap_counts_open_and_pending_sessions() {
        let s = sessions(2);
        let (s1, s2, s3) = (open(&s).await, open(&s).await, open(&s).await);
        let a = s.reserve("alice").await.expect("first");
        let b = s.reserve("alice").await.expect("second");
        assert!(s.reserve("bob").await.is_ok(), "bob has slots of his own");
        // Both slots are held, one still in flight: a third is refused.
        a.bind(&s1);
        assert_eq!(s.reserve("alice").await.err(), Some(1));
        // An initialize that opened nothing gives its slot back.
        drop(b);
        let c = s.reserve("alice").await.expect("freed");
        c.bind(&s2);
        assert_eq!(s.reserve("alice").await.err(), Some(2));
        assert_eq!(s.other_owner(&s1, "bob").as_deref(), Some("alice"));
        assert_eq!(s.other_owner(&s1, "alice"), None);
        s.forget(&s1);
        assert_eq!(s.other_owner(&s1, "bob"), None);
        s.reserve("alice")
            .await
            .expect("DELETE freed one")
            .bind(&s3);
        assert_eq!(s.reserve("alice").await.err(), Some(2));
    }

    #[tokio::test]
    async fn sessions_rmcp_no_longer_has_are_pruned_at_the_cap() {
        // Sessions bound here were never created in the manager: to it they have expired.
        let s = sessions(1);
        s.reserve("alice").await.expect("first").bind("gone");
        let again = s
            .reserve("alice")
            .await
            .expect("the vanished session's slot is free");
        again.bind("next");
        assert!(!s.lock().owners.contains_key("gone"));
    }
}
