//! The writing operations: staging, restoring, committing, branching, switching.
//!
//! All of them go through libgit2 calls that run nothing the repository configures: index writes
//! apply only libgit2's built-in filters (no `filter.<x>` drivers), `Repository::commit` neither
//! signs nor runs hooks, and checkouts run no `post-checkout`. Nested repositories (a directory
//! holding a `.git` file or directory) are never staged into or opened.

mod branch;
mod commit;
mod links;
mod merge;
mod paths;
mod refs;
mod remove;
mod restore;
mod stage;
mod stash;
#[cfg(test)]
mod tests;

pub(crate) use branch::safe_checkout;
pub use branch::{
    CreateBranchArgs, DeleteBranchArgs, SwitchArgs, create_branch, delete_branch, switch,
};
pub(crate) use commit::signature;
pub use commit::{CommitArgs, commit, pin_commit_time};
pub use merge::{FastForward, MergeArgs, merge};
pub use refs::{ResetArgs, ResetMode, TagArgs, reset, tag};
pub use remove::{MvArgs, RmArgs, mv, rm};
pub use restore::{RestoreArgs, restore};
pub use stage::{AddArgs, add};
pub use stash::{StashAction, StashArgs, stash};
