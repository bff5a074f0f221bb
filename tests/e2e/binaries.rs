//! The workspace binaries the tests drive.

use std::path::PathBuf;

/// A binary `cargo test --workspace` built next to this test's directory.
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|d| d.parent()).unwrap();
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} is missing; build it first: cargo build --workspace --bins",
        bin.display()
    );
    bin
}
