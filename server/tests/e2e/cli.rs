//! The command line: complete help, config errors that say what to do, the schema check.

use std::process::Command;

use crate::harness::{BIN, fixture_repo};

fn run(args: &[&str]) -> (bool, String) {
    let out = Command::new(BIN).args(args).output().unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), all)
}

#[test]
fn serve_help_documents_every_option() {
    let (ok, help) = run(&["serve", "--help"]);
    assert!(ok);
    for flag in [
        "--stdio",
        "--http",
        "--config",
        "--repo",
        "--store",
        "--data-dir",
        "--audit-key-file",
        "--secret-key-file",
        "--read-only",
        "--rate-limit",
        "--audit-mirror",
        "--resource-url",
        "--authorization-server",
        "--durable",
        "--no-auth",
        "--allowed-host",
        "--allowed-origin",
        "--user",
        "--git-name",
        "--git-email",
        "--auth-failures-per-minute",
        "--auth-failure-burst",
        "--max-sessions-per-user",
        "--initialize-per-minute",
        "--header-timeout",
        "--idle-timeout",
        "--max-connections",
        "--max-connections-per-address",
        "GITGATE_CONFIG",
        "GITGATE_REPOS",
        "GITGATE_STORE",
        "[[repos]]",
        "[jwt]",
    ] {
        assert!(help.contains(flag), "serve --help lacks {flag}");
    }
}

#[test]
fn committed_schemas_pass_the_check() {
    let (ok, out) = run(&[
        "schemas",
        "--check",
        "--out",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../schemas"),
    ]);
    assert!(ok, "{out}");
}

#[test]
fn config_mistakes_are_explained() {
    let repo = fixture_repo();
    let check = |args: &[&str], expected: &str| {
        let (ok, out) = run(args);
        assert!(!ok, "{args:?} should fail");
        assert!(out.contains(expected), "{args:?}: {out}");
    };
    check(&["serve", "--stdio"], "no repositories configured");
    check(
        &["serve", "--stdio", "--repo", "/definitely/missing"],
        "bad --repo",
    );
    let dir = tempfile::tempdir().unwrap();
    let not_repo = dir.path().to_str().unwrap();
    check(
        &["serve", "--stdio", "--repo", &format!("x={not_repo}")],
        "cannot open repository 'x'",
    );
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "[http]\ntokn = 'x'\n").unwrap();
    check(
        &["serve", "--stdio", "--config", cfg.to_str().unwrap()],
        "invalid config",
    );
    let repo_path = repo.path().to_str().unwrap();
    check(
        &[
            "serve",
            "--stdio",
            "--repo",
            &format!("a={repo_path}"),
            "--repo",
            &format!("a={repo_path}"),
        ],
        "configured twice",
    );
}
