//! Whose branch a remote branch is, for `git push --delete` without `force`.
//!
//! GitHub records no owner for a branch. gitgate's audit log records every push it made, with
//! the pusher and the references moved (`REF OLD NEW`), so it can tell the branches a user
//! created through gitgate. A user may delete such a branch while nobody else has pushed to it
//! through gitgate and the remote still holds the commit they last pushed; any other deletion is
//! deleting somebody else's work and needs `force` (the `git:force` scope).

use crate::audit::StoredEvent;

/// Pushes read back to decide ownership: older ones than this are not consulted, so a branch
/// created long ago counts as not the caller's (the safe side: deleting it needs `force`).
pub const LEDGER_WINDOW: u64 = 10_000;

/// The commit `user` last pushed to `refname`, when the audit log shows `user` created that
/// branch and was the only one to push to it since; `None` otherwise.
///
/// `pushes` are allowed, successful `git_push` events of one repository, in sequence order.
pub fn own_tip(pushes: &[StoredEvent], user: &str, refname: &str) -> Option<git2::Oid> {
    // (creator, tip) of the branch's current incarnation, as far as the log shows it.
    let mut state: Option<(bool, git2::Oid)> = None;
    for stored in pushes {
        let event = &stored.event;
        for update in &event.ref_updates {
            let mut parts = update.split(' ');
            let (Some(r), Some(old), Some(new)) = (parts.next(), parts.next(), parts.next()) else {
                continue;
            };
            if r != refname {
                continue;
            }
            let (Ok(old), Ok(new)) = (git2::Oid::from_str(old), git2::Oid::from_str(new)) else {
                // An unreadable record breaks the chain of evidence.
                state = None;
                continue;
            };
            let by_user = event.user == user;
            state = if new.is_zero() {
                None
            } else if old.is_zero() {
                Some((by_user, new))
            } else {
                state.map(|(mine, _)| (mine && by_user, new))
            };
        }
    }
    match state {
        Some((true, tip)) => Some(tip),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{AuditEvent, AuthMethod, StoredEvent};
    use serde_json::json;

    const Z: &str = "0000000000000000000000000000000000000000";
    const A: &str = "1111111111111111111111111111111111111111";
    const B: &str = "2222222222222222222222222222222222222222";

    fn push(user: &str, updates: &[&str]) -> StoredEvent {
        let event = AuditEvent::builder("test", user, AuthMethod::Token, "git_push", &json!({}))
            .ref_updates(updates.iter().map(|u| (*u).to_owned()).collect())
            .build();
        StoredEvent {
            seq: 0,
            prev_hash: String::new(),
            hash: String::new(),
            event,
            event_json: String::new(),
        }
    }

    fn oid(s: &str) -> git2::Oid {
        git2::Oid::from_str(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_creator_who_pushed_last_owns_the_branch() {
        let log = [
            push("alice", &[&format!("refs/heads/fix {Z} {A}")]),
            push("alice", &[&format!("refs/heads/fix {A} {B}")]),
        ];
        assert_eq!(own_tip(&log, "alice", "refs/heads/fix"), Some(oid(B)));
        assert_eq!(own_tip(&log, "bob", "refs/heads/fix"), None);
    }

    #[test]
    fn a_push_by_someone_else_ends_ownership() {
        let log = [
            push("alice", &[&format!("refs/heads/fix {Z} {A}")]),
            push("bob", &[&format!("refs/heads/fix {A} {B}")]),
            push("alice", &[&format!("refs/heads/fix {B} {A}")]),
        ];
        assert_eq!(own_tip(&log, "alice", "refs/heads/fix"), None);
        assert_eq!(own_tip(&log, "bob", "refs/heads/fix"), None);
    }

    #[test]
    fn a_branch_recreated_by_another_user_is_theirs() {
        let log = [
            push("alice", &[&format!("refs/heads/fix {Z} {A}")]),
            push("alice", &[&format!("refs/heads/fix {A} {Z}")]),
            push("bob", &[&format!("refs/heads/fix {Z} {B}")]),
        ];
        assert_eq!(own_tip(&log, "alice", "refs/heads/fix"), None);
        assert_eq!(own_tip(&log, "bob", "refs/heads/fix"), Some(oid(B)));
    }

    #[test]
    fn unseen_creation_and_other_refs_give_no_ownership() {
        let log = [
            push("alice", &[&format!("refs/heads/fix {A} {B}")]),
            push("alice", &[&format!("refs/heads/fixes {Z} {A}")]),
        ];
        assert_eq!(own_tip(&log, "alice", "refs/heads/fix"), None);
        assert_eq!(own_tip(&log, "alice", "refs/heads/fixes"), Some(oid(A)));
    }
}
