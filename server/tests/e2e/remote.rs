//! git_fetch, git_pull and git_push against the forge over smart HTTP (issue "The whole agent
//! loop", item 1): as the calling user's own token, to the configured host only, under the
//! push and force scopes, with protected branches, every push audited with its ref updates.
//! The real git checks what landed in the forge's bare repository.
#![allow(clippy::disallowed_methods)] // Spawning git (the oracle) and gitgate is the point.

use std::path::Path;
use std::process::Command;

use rmcp::ServiceExt;
use rmcp::transport::{ConfigureCommandExt, TokioChildProcess};
use serde_json::{Value, json};

use crate::harness::{BIN, Client, text};

/// A forge, a working clone of acme/widgets whose origin is the forge over HTTP, and a data
/// directory for gitgate.
struct World {
    forge: gitgate_forge::Handle,
    _forge_dir: tempfile::TempDir,
    clone: tempfile::TempDir,
    data: tempfile::TempDir,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_AUTHOR_NAME", "Tester")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "Tester")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl World {
    async fn start() -> Self {
        let forge_dir = tempfile::tempdir().unwrap();
        let forge = gitgate_forge::start_ephemeral(forge_dir.path())
            .await
            .unwrap();
        let clone = tempfile::tempdir().unwrap();
        let bare = forge.repo_path("acme", "widgets");
        git(
            clone.path(),
            &["clone", "-q", &format!("file://{}", bare.display()), "."],
        );
        let origin = format!("{}/acme/widgets.git", forge.base_url);
        git(clone.path(), &["remote", "set-url", "origin", &origin]);
        Self {
            forge,
            _forge_dir: forge_dir,
            clone,
            data: tempfile::tempdir().unwrap(),
        }
    }

    /// A stdio gitgate on the clone as `login` (their forge token in GITHUB_TOKEN) with these
    /// scopes, and `extra` configuration.
    async fn client(&self, login: &str, scopes: &[&str], extra: &str) -> Client {
        self.client_with_token(login, scopes, extra, self.forge.token(login))
            .await
    }

    async fn client_with_token(
        &self,
        login: &str,
        scopes: &[&str],
        extra: &str,
        token: &str,
    ) -> Client {
        ().serve(self.server(login, scopes, extra, token))
            .await
            .unwrap()
    }

    /// A stdio gitgate as `login` whose client hands every progress notification to `tx`.
    async fn progress_client(
        &self,
        login: &str,
        scopes: &[&str],
        tx: tokio::sync::mpsc::UnboundedSender<rmcp::model::ProgressNotificationParam>,
    ) -> rmcp::service::RunningService<rmcp::RoleClient, Progress> {
        Progress(tx)
            .serve(self.server(login, scopes, "", self.forge.token(login)))
            .await
            .unwrap()
    }

    /// The stdio gitgate process of those clients: its config file (the clone as `widgets`,
    /// the user with `scopes`, then `extra`) and `token` as its GitHub token.
    fn server(&self, login: &str, scopes: &[&str], extra: &str, token: &str) -> TokioChildProcess {
        let config = self.data.path().join(format!("{login}.toml"));
        let scopes: Vec<String> = scopes.iter().map(|s| format!("{s:?}")).collect();
        std::fs::write(
            &config,
            format!(
                "{extra}\n[[repos]]\nname = \"widgets\"\npath = {:?}\n\n[user]\nname = \"{login}\"\n\
                 scopes = [{}]\nrepos = [\"widgets\", \"acme/*\"]\ngit_name = \"{login}\"\n\
                 git_email = \"{login}@example.com\"\n",
                self.clone.path().display().to_string(),
                scopes.join(", ")
            ),
        )
        .unwrap();
        let data = self.data.path().display().to_string();
        let config = config.display().to_string();
        let base = self.forge.base_url.clone();
        let token = token.to_owned();
        let cmd = tokio::process::Command::new(BIN).configure(|c| {
            c.args(["serve", "--stdio", "--data-dir", &data, "--config", &config])
                .args(["--github-url", &base, "--github-repo", "acme/widgets"])
                .env("GITHUB_TOKEN", &token);
        });
        TokioChildProcess::new(cmd).unwrap()
    }

    /// The id a branch has in the forge's bare repository, if it exists.
    fn remote_branch(&self, branch: &str) -> Option<String> {
        let out = Command::new("git")
            .args([
                "rev-parse",
                "--verify",
                "-q",
                &format!("refs/heads/{branch}"),
            ])
            .current_dir(self.forge.repo_path("acme", "widgets"))
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    }

    /// Commits a change to `file` on the current branch of the clone with the real git.
    fn commit(&self, file: &str, text: &str) -> String {
        std::fs::write(self.clone.path().join(file), text).unwrap();
        git(self.clone.path(), &["add", file]);
        git(
            self.clone.path(),
            &["commit", "-q", "-m", &format!("edit {file}")],
        );
        git(self.clone.path(), &["rev-parse", "HEAD"])
    }

    async fn audit(&self) -> Vec<gitgate::audit::AuditEvent> {
        let state = gitgate::settings::StateConfig {
            data_dir: Some(self.data.path().to_owned()),
            ..Default::default()
        };
        let log = gitgate::audit::Log::new(state.open_store().await.unwrap());
        log.query(&gitgate::audit::AuditFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event)
            .collect()
    }
}

async fn call(c: &Client, tool: &str, args: Value) -> (bool, String) {
    let r = c
        .call_tool(
            rmcp::model::CallToolRequestParams::new(tool.to_owned())
                .with_arguments(args.as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    (r.is_error != Some(true), text(&r))
}

const PUSHER: &[&str] = &["git:read", "git:write", "git:push"];
const FORCER: &[&str] = &["git:read", "git:write", "git:push", "git:force"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_publishes_a_branch_as_the_caller_and_audits_its_ref_updates() {
    let w = World::start().await;
    git(w.clone.path(), &["switch", "-q", "-c", "fix/teeth"]);
    let id = w.commit("src/gear.rs", "pub const TEETH: u16 = 256;\n");
    let c = w.client("alice", PUSHER, "").await;
    let (ok, out) = call(&c, "git_push", json!({"set_upstream": true})).await;
    assert!(ok, "{out}");
    assert!(
        out.contains(" * [new branch]      fix/teeth -> fix/teeth"),
        "{out}"
    );
    assert!(
        out.contains("branch 'fix/teeth' set up to track 'origin/fix/teeth'."),
        "{out}"
    );
    assert_eq!(w.remote_branch("fix/teeth").as_deref(), Some(id.as_str()));
    // As git does: the remote-tracking branch follows, and -u set the upstream.
    assert_eq!(git(w.clone.path(), &["rev-parse", "origin/fix/teeth"]), id);
    assert_eq!(
        git(
            w.clone.path(),
            &["rev-parse", "--abbrev-ref", "@{upstream}"]
        ),
        "origin/fix/teeth"
    );
    // Nothing of the token is left behind in the repository's configuration.
    let config = std::fs::read_to_string(w.clone.path().join(".git/config")).unwrap();
    assert!(!config.contains(w.forge.token("alice")), "{config}");

    // A second commit: a fast-forward.
    let next = w.commit("src/gear.rs", "pub const TEETH: u16 = 255;\n");
    let (ok, out) = call(&c, "git_push", json!({})).await;
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("..{}  fix/teeth -> fix/teeth", &next[..7])),
        "{out}"
    );
    assert_eq!(w.remote_branch("fix/teeth").as_deref(), Some(next.as_str()));
    drop(c);

    let events = w.audit().await;
    let pushes: Vec<_> = events.iter().filter(|e| e.tool == "git_push").collect();
    assert_eq!(pushes.len(), 2);
    let zero = "0".repeat(40);
    assert_eq!(
        pushes[0].ref_updates,
        [format!("refs/heads/fix/teeth {zero} {id}")]
    );
    assert_eq!(
        pushes[1].ref_updates,
        [format!("refs/heads/fix/teeth {id} {next}")]
    );
    assert_eq!(pushes[0].user, "alice");

    // The forge attributes the pushes to the token that made them (GitHub's PushEvents).
    let events: Value = reqwest::Client::new()
        .get(format!("{}/repos/acme/widgets/events", w.forge.base_url))
        .header("Authorization", format!("token {}", w.forge.token("bob")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events = events.as_array().unwrap();
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0]["type"], "PushEvent");
    assert_eq!(events[0]["actor"]["login"], "alice");
    assert_eq!(events[0]["payload"]["ref"], "refs/heads/fix/teeth");
    assert_eq!(events[0]["payload"]["before"], id.as_str());
    assert_eq!(events[0]["payload"]["head"], next.as_str());
    assert_eq!(events[1]["payload"]["before"], zero.as_str());
}

/// A client that hands the test every progress notification it receives.
#[derive(Clone)]
struct Progress(tokio::sync::mpsc::UnboundedSender<rmcp::model::ProgressNotificationParam>);

impl rmcp::ClientHandler for Progress {
    async fn on_progress(
        &self,
        params: rmcp::model::ProgressNotificationParam,
        _ctx: rmcp::service::NotificationContext<rmcp::RoleClient>,
    ) {
        let _ = self.0.send(params);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_and_fetch_report_progress_to_a_client_that_asked() {
    let w = World::start().await;
    git(w.clone.path(), &["switch", "-q", "-c", "progress"]);
    w.commit("p.txt", "progress\n");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let alice = w.progress_client("alice", PUSHER, tx).await;
    let pushed = alice
        .call_tool(
            rmcp::model::CallToolRequestParams::new("git_push")
                .with_arguments(json!({}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_ne!(pushed.is_error, Some(true), "{pushed:?}");
    let note = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
        .await
        .expect("a progress notification")
        .unwrap();
    assert_eq!(note.message.as_deref(), Some("writing objects"), "{note:?}");
    assert!(note.total.is_some_and(|t| t >= note.progress), "{note:?}");
    // New objects on the forge, fetched: progress while receiving them.
    let other = tempfile::tempdir().unwrap();
    let bare = w.forge.repo_path("acme", "widgets");
    git(
        other.path(),
        &["clone", "-q", &format!("file://{}", bare.display()), "."],
    );
    git(other.path(), &["switch", "-q", "-c", "elsewhere"]);
    std::fs::write(other.path().join("q.txt"), "from elsewhere\n").unwrap();
    git(other.path(), &["add", "q.txt"]);
    git(other.path(), &["commit", "-q", "-m", "elsewhere"]);
    git(other.path(), &["push", "-q", "origin", "elsewhere"]);
    let fetched = alice
        .call_tool(
            rmcp::model::CallToolRequestParams::new("git_fetch")
                .with_arguments(json!({}).as_object().unwrap().clone()),
        )
        .await
        .unwrap();
    assert_ne!(fetched.is_error, Some(true), "{fetched:?}");
    let note = loop {
        let n = tokio::time::timeout(std::time::Duration::from_secs(10), rx.recv())
            .await
            .expect("a progress notification of the fetch")
            .unwrap();
        if n.message.as_deref() != Some("writing objects") {
            break n;
        }
    };
    assert_eq!(
        note.message.as_deref(),
        Some("receiving objects"),
        "{note:?}"
    );
}

/// The real git, outside gitgate, pushing the clone's `branch` to the forge's bare repository.
fn push_outside_gitgate(w: &World, branch: &str) {
    let bare = w.forge.repo_path("acme", "widgets");
    git(
        w.clone.path(),
        &[
            "push",
            "-q",
            &format!("file://{}", bare.display()),
            &format!("{branch}:{branch}"),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_branch_is_deleted_without_force_only_by_the_user_who_created_and_last_pushed_it() {
    let w = World::start().await;
    let delete = |b: &str| json!({"branch": b, "delete": true});
    git(w.clone.path(), &["switch", "-q", "-c", "mine"]);
    w.commit("a.txt", "one\n");
    let alice = w.client("alice", PUSHER, "").await;
    assert!(call(&alice, "git_push", json!({})).await.0);
    drop(alice);

    // Another user's branch: refused before anything is sent, saying how it could be done.
    let bob = w.client("bob", PUSHER, "").await;
    let (ok, out) = call(&bob, "git_push", delete("mine")).await;
    assert!(!ok, "{out}");
    assert!(out.contains("not your branch to delete"), "{out}");
    assert!(out.contains("git:force"), "{out}");
    // And force needs the scope.
    let (ok, out) = call(
        &bob,
        "git_push",
        json!({"branch": "mine", "delete": true, "force": true}),
    )
    .await;
    assert!(!ok, "{out}");
    assert!(out.contains("git:force"), "{out}");
    assert!(w.remote_branch("mine").is_some());

    // Bob adds to a branch alice created: it is no longer hers alone, nor ever his.
    git(w.clone.path(), &["switch", "-q", "-c", "shared"]);
    w.commit("b.txt", "two\n");
    drop(bob);
    let alice = w.client("alice", PUSHER, "").await;
    assert!(call(&alice, "git_push", json!({})).await.0);
    drop(alice);
    w.commit("c.txt", "three\n");
    let bob = w.client("bob", PUSHER, "").await;
    assert!(call(&bob, "git_push", json!({})).await.0);
    let (ok, out) = call(&bob, "git_push", delete("shared")).await;
    assert!(!ok, "{out}");
    drop(bob);
    let alice = w.client("alice", PUSHER, "").await;
    let (ok, out) = call(&alice, "git_push", delete("shared")).await;
    assert!(!ok, "{out}");
    assert!(w.remote_branch("shared").is_some());

    // A branch pushed outside gitgate is nobody's as far as gitgate knows; one of alice's that
    // moved outside gitgate is no longer at what she pushed: both refused.
    git(w.clone.path(), &["switch", "-q", "-c", "elsewhere"]);
    w.commit("d.txt", "four\n");
    push_outside_gitgate(&w, "elsewhere");
    let (ok, out) = call(&alice, "git_push", delete("elsewhere")).await;
    assert!(!ok, "{out}");
    git(w.clone.path(), &["switch", "-q", "-c", "moved"]);
    assert!(call(&alice, "git_push", json!({})).await.0);
    w.commit("e.txt", "five\n");
    push_outside_gitgate(&w, "moved");
    let (ok, out) = call(&alice, "git_push", delete("moved")).await;
    assert!(!ok, "{out}");
    assert!(w.remote_branch("moved").is_some());

    // Her own branch, untouched since: deleted.
    let (ok, out) = call(&alice, "git_push", delete("mine")).await;
    assert!(ok, "{out}");
    assert!(out.contains(" - [deleted]         mine"), "{out}");
    assert_eq!(w.remote_branch("mine"), None);
    drop(alice);

    // With git:force anyone may delete an unprotected branch.
    let forcer = w.client("bob", FORCER, "").await;
    let (ok, out) = call(
        &forcer,
        "git_push",
        json!({"branch": "shared", "delete": true, "force": true}),
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(w.remote_branch("shared"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rewriting_history_needs_force_and_git_force_and_never_touches_a_protected_branch() {
    let w = World::start().await;
    git(w.clone.path(), &["switch", "-q", "-c", "topic"]);
    w.commit("a.txt", "one\n");
    let pusher = w.client("alice", PUSHER, "").await;
    assert!(call(&pusher, "git_push", json!({})).await.0);
    let before = w.remote_branch("topic").unwrap();
    git(
        w.clone.path(),
        &["commit", "-q", "--amend", "-m", "rewritten"],
    );
    let amended = git(w.clone.path(), &["rev-parse", "HEAD"]);

    // Without force: refused before anything is sent, with what to do.
    let (ok, out) = call(&pusher, "git_push", json!({})).await;
    assert!(!ok);
    assert!(out.contains("non-fast-forward"), "{out}");
    assert!(out.contains("git_pull"), "{out}");
    // force without git:force: denied by policy.
    let (ok, out) = call(&pusher, "git_push", json!({"force": true})).await;
    assert!(!ok);
    assert!(out.contains("git:force"), "{out}");
    assert_eq!(w.remote_branch("topic").as_deref(), Some(before.as_str()));
    drop(pusher);

    let forcer = w.client("alice", FORCER, "").await;
    let (ok, out) = call(&forcer, "git_push", json!({"force": true})).await;
    assert!(ok, "{out}");
    assert!(out.contains("(forced update)"), "{out}");
    assert_eq!(w.remote_branch("topic").as_deref(), Some(amended.as_str()));

    // main, the default branch, is protected: no force, no delete, even with git:force.
    git(w.clone.path(), &["switch", "-q", "main"]);
    git(w.clone.path(), &["reset", "-q", "--hard", "HEAD~1"]);
    let main_before = w.remote_branch("main").unwrap();
    let (ok, out) = call(&forcer, "git_push", json!({"force": true})).await;
    assert!(!ok);
    assert!(out.contains("'main' is a protected branch"), "{out}");
    let (ok, out) = call(
        &forcer,
        "git_push",
        json!({"branch": "main", "delete": true}),
    )
    .await;
    assert!(!ok);
    assert!(out.contains("protected"), "{out}");
    assert_eq!(
        w.remote_branch("main").as_deref(),
        Some(main_before.as_str())
    );
    // Deleting an unprotected branch is a push like any other.
    let (ok, out) = call(
        &forcer,
        "git_push",
        json!({"branch": "topic", "delete": true}),
    )
    .await;
    assert!(ok, "{out}");
    assert!(out.contains(" - [deleted]         topic"), "{out}");
    assert_eq!(w.remote_branch("topic"), None);
    drop(forcer);

    // Configured globs replace the default.
    let guarded = w
        .client("alice", FORCER, "[[protect]]\nbranch = \"release/*\"\n")
        .await;
    git(w.clone.path(), &["switch", "-q", "-c", "release/1.0"]);
    w.commit("b.txt", "two\n");
    assert!(call(&guarded, "git_push", json!({})).await.0);
    git(w.clone.path(), &["commit", "-q", "--amend", "-m", "again"]);
    let (ok, out) = call(&guarded, "git_push", json!({"force": true})).await;
    assert!(!ok);
    assert!(out.contains("'release/1.0' is a protected branch"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_anywhere_else_is_refused_before_connecting() {
    let w = World::start().await;
    let c = w.client("alice", FORCER, "").await;
    let origin = format!("{}/acme/widgets.git", w.forge.base_url);
    let port = w.forge.addr.port();
    for (url, why) in [
        (
            format!("http://127.0.0.2:{port}/acme/widgets.git"),
            "another host",
        ),
        (
            format!("http://127.0.0.1:{}/acme/widgets.git", port + 1),
            "another host",
        ),
        (
            format!("file://{}", w.forge.repo_path("acme", "widgets").display()),
            "another scheme",
        ),
        (
            "git@github.com:acme/widgets.git".to_owned(),
            "not an http(s) URL",
        ),
        // git's ext:: transport runs a program; libgit2 has none, and the check refuses it first.
        (
            "ext::sh -c touch% /tmp/gitgate-ext-pwned".to_owned(),
            "refused",
        ),
        (
            "ssh://git@127.0.0.1/acme/widgets.git".to_owned(),
            "another scheme",
        ),
        ("/srv/git/acme/widgets.git".to_owned(), "not an http(s) URL"),
        (
            format!("http://x-access-token:stolen@127.0.0.1:{port}/acme/widgets.git"),
            "credentials in the URL",
        ),
        (
            format!("{}/acme/widgets.git?x=1", w.forge.base_url),
            "a query",
        ),
        (
            format!("{}/acme/widgets/extra.git", w.forge.base_url),
            "not OWNER/REPO",
        ),
    ] {
        git(w.clone.path(), &["remote", "set-url", "origin", &url]);
        for tool in ["git_fetch", "git_push"] {
            let (ok, out) = call(&c, tool, json!({})).await;
            assert!(!ok, "{tool} {url}: {out}");
            assert!(out.contains(why), "{tool} {url}: {out}");
            assert!(!out.contains("stolen"), "{out}");
        }
    }
    assert!(!Path::new("/tmp/gitgate-ext-pwned").exists());
    // A rewrite in the repository's own configuration is judged by where it leads.
    git(w.clone.path(), &["remote", "set-url", "origin", &origin]);
    git(
        w.clone.path(),
        &[
            "config",
            "url.http://127.0.0.2:9/.insteadOf",
            &format!("{}/", w.forge.base_url),
        ],
    );
    let (ok, out) = call(&c, "git_fetch", json!({})).await;
    assert!(!ok);
    assert!(out.contains("another host"), "{out}");
    git(
        w.clone.path(),
        &["config", "--remove-section", "url.http://127.0.0.2:9/"],
    );
    // A push URL elsewhere is refused for a push even when the fetch URL is fine.
    git(
        w.clone.path(),
        &[
            "remote",
            "set-url",
            "--push",
            "origin",
            "http://127.0.0.2:9/acme/widgets.git",
        ],
    );
    let (ok, out) = call(&c, "git_push", json!({})).await;
    assert!(!ok);
    assert!(out.contains("another host"), "{out}");
    assert!(call(&c, "git_fetch", json!({})).await.0);
    git(
        w.clone.path(),
        &["config", "--unset", "remote.origin.pushurl"],
    );
    // A repository outside the caller's grants.
    git(
        w.clone.path(),
        &[
            "remote",
            "set-url",
            "origin",
            &format!("{}/other/widgets.git", w.forge.base_url),
        ],
    );
    let (ok, out) = call(&c, "git_fetch", json!({})).await;
    assert!(!ok);
    assert!(out.contains("not among your repository grants"), "{out}");
    // An unknown remote names the known ones.
    let (ok, out) = call(&c, "git_fetch", json!({"remote": "upstream"})).await;
    assert!(!ok);
    assert!(
        out.contains("no remote 'upstream'; remotes: origin"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fetch_and_pull_fast_forward_merge_when_asked_and_leave_a_conflict_untouched() {
    let w = World::start().await;
    // Someone else pushes to main with the real git.
    let other = tempfile::tempdir().unwrap();
    let url = w.forge.clone_url("acme", "widgets", "bob");
    git(other.path(), &["clone", "-q", &url, "."]);
    std::fs::write(other.path().join("NOTES.md"), "from bob\n").unwrap();
    git(other.path(), &["add", "NOTES.md"]);
    git(other.path(), &["commit", "-q", "-m", "notes"]);
    git(other.path(), &["push", "-q", "origin", "main"]);
    let theirs = git(other.path(), &["rev-parse", "HEAD"]);
    // A push with the real git over HTTP is attributed to bob's token as well.
    let events: Value = reqwest::Client::new()
        .get(format!("{}/repos/acme/widgets/events", w.forge.base_url))
        .header("Authorization", format!("token {}", w.forge.token("alice")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events[0]["actor"]["login"], "bob", "{events}");
    assert_eq!(events[0]["payload"]["head"], theirs.as_str());

    let c = w.client("alice", PUSHER, "").await;
    let (ok, out) = call(&c, "git_fetch", json!({})).await;
    assert!(ok, "{out}");
    assert!(
        out.contains("main       -> origin/main") || out.contains("main -> origin/main"),
        "{out}"
    );
    assert_eq!(git(w.clone.path(), &["rev-parse", "origin/main"]), theirs);
    let (ok, out) = call(&c, "git_pull", json!({})).await;
    assert!(ok, "{out}");
    assert!(out.contains("Fast-forward"), "{out}");
    assert_eq!(git(w.clone.path(), &["rev-parse", "HEAD"]), theirs);
    assert_eq!(
        std::fs::read_to_string(w.clone.path().join("NOTES.md")).unwrap(),
        "from bob\n"
    );
    let (ok, out) = call(&c, "git_pull", json!({})).await;
    assert!(ok && out.ends_with("Already up to date."), "{out}");

    // Diverged: --ff-only refuses; merge: true makes the merge commit as the caller.
    std::fs::write(other.path().join("NOTES.md"), "from bob\nmore\n").unwrap();
    git(other.path(), &["commit", "-q", "-am", "more notes"]);
    git(other.path(), &["push", "-q", "origin", "main"]);
    let mine = w.commit("LOCAL.md", "mine\n");
    let (ok, out) = call(&c, "git_pull", json!({})).await;
    assert!(!ok);
    assert!(
        out.contains("diverged") && out.contains("merge: true"),
        "{out}"
    );
    assert_eq!(git(w.clone.path(), &["rev-parse", "HEAD"]), mine);
    let (ok, out) = call(&c, "git_pull", json!({"merge": true})).await;
    assert!(ok, "{out}");
    let parents = git(w.clone.path(), &["log", "-1", "--format=%P %an"]);
    assert!(
        parents.starts_with(&mine) && parents.ends_with(" alice"),
        "{parents}"
    );
    assert_eq!(git(w.clone.path(), &["status", "--porcelain"]), "");

    // A conflict: nothing is written.
    std::fs::write(other.path().join("NOTES.md"), "bob's line\n").unwrap();
    git(other.path(), &["commit", "-q", "-am", "bob edits"]);
    git(other.path(), &["push", "-q", "origin", "main"]);
    let head = w.commit("NOTES.md", "alice's line\n");
    let (ok, out) = call(&c, "git_pull", json!({"merge": true})).await;
    assert!(!ok);
    assert!(out.contains("merge conflict in NOTES.md"), "{out}");
    assert_eq!(git(w.clone.path(), &["rev-parse", "HEAD"]), head);
    assert_eq!(git(w.clone.path(), &["status", "--porcelain"]), "");
    assert_eq!(
        std::fs::read_to_string(w.clone.path().join("NOTES.md")).unwrap(),
        "alice's line\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_needs_git_push_and_a_bad_token_says_what_to_do() {
    let w = World::start().await;
    git(w.clone.path(), &["switch", "-q", "-c", "nope"]);
    w.commit("c.txt", "x\n");
    let writer = w.client("alice", &["git:read", "git:write"], "").await;
    let (ok, out) = call(&writer, "git_push", json!({})).await;
    assert!(!ok);
    assert!(out.contains("git:push"), "{out}");
    drop(writer);
    let events = w.audit().await;
    let denied = events.iter().rfind(|e| e.tool == "git_push").unwrap();
    assert!(!denied.decision.allowed);
    assert!(denied.ref_updates.is_empty());

    let bad = w
        .client_with_token("alice", PUSHER, "", "ghp_not_a_token")
        .await;
    let (ok, out) = call(&bad, "git_push", json!({})).await;
    assert!(!ok);
    assert!(out.contains("refused your token"), "{out}");
    assert_eq!(w.remote_branch("nope"), None);
}

/// With git served under its own name (`--github-git-url`, as a GitHub Enterprise host or the
/// forge's public `github.localhost`): a remote must name that host, and naming the API address
/// instead is another host. (github.localhost does not resolve here, so the allowed push gets as
/// far as the name lookup, after the check.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remotes_must_name_the_configured_git_host() {
    let w = World::start().await;
    git(w.clone.path(), &["switch", "-q", "-c", "named"]);
    w.commit("n.txt", "named host\n");
    let c = w
        .client(
            "alice",
            PUSHER,
            "\n[github]\ngit_url = \"http://github.localhost\"\n",
        )
        .await;
    // The API address is not where git is served now.
    let (ok, out) = call(&c, "git_push", json!({})).await;
    assert!(!ok);
    assert!(out.contains("another host"), "{out}");
    assert!(out.contains("http://github.localhost/OWNER/REPO"), "{out}");
    git(
        w.clone.path(),
        &[
            "remote",
            "set-url",
            "origin",
            "http://github.localhost/acme/widgets.git",
        ],
    );
    let (ok, out) = call(&c, "git_push", json!({})).await;
    assert!(!ok);
    assert!(!out.contains("refused"), "{out}");
    assert!(out.contains("github.localhost"), "{out}");
    assert_eq!(w.remote_branch("named"), None);
}

/// The run form's `git push`, `git fetch` and `git pull` are the same operations under the same
/// policy: audited as `git_push` (parent: the run call), `--force` judged as `git:force`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn command_lines_push_fetch_and_pull_under_the_same_policy() {
    let w = World::start().await;
    git(w.clone.path(), &["switch", "-q", "-c", "lined"]);
    let id = w.commit("l.txt", "by a line\n");
    let c = w.client("alice", PUSHER, "lean = true\n").await;
    let (ok, out) = call(&c, "gitgate", json!({"run": "git push -u origin lined"})).await;
    assert!(ok, "{out}");
    assert!(out.contains(" * [new branch]      lined -> lined"), "{out}");
    assert_eq!(w.remote_branch("lined").as_deref(), Some(id.as_str()));
    let (ok, out) = call(
        &c,
        "gitgate",
        json!({"run": "git push -q && git fetch -q && git pull -q"}),
    )
    .await;
    assert!(ok, "{out}");
    assert_eq!(out, "");
    git(
        w.clone.path(),
        &["commit", "-q", "--amend", "-m", "amended"],
    );
    let (ok, out) = call(&c, "gitgate", json!({"run": "git push --force"})).await;
    assert!(!ok);
    assert!(out.contains("git:force"), "{out}");
    assert!(out.ends_with("[exit status 128]"), "{out}");
    let (ok, out) = call(&c, "gitgate", json!({"run": "git push --mirror"})).await;
    assert!(!ok);
    assert!(out.contains("supported: -u/--set-upstream"), "{out}");
    drop(c);
    let events = w.audit().await;
    let run = events
        .iter()
        .find(|e| e.tool == "gitgate" && e.arguments["run"] == "git push -u origin lined")
        .expect("the run call audited");
    let push = events
        .iter()
        .find(|e| e.tool == "git_push" && e.parent.as_deref() == Some(run.id.as_str()))
        .expect("its push audited under it");
    assert_eq!(
        push.ref_updates,
        [format!("refs/heads/lined {} {id}", "0".repeat(40))]
    );
    let forced = events
        .iter()
        .rfind(|e| e.tool == "git_push")
        .expect("the forced push audited");
    assert!(!forced.decision.allowed);
    assert_eq!(forced.arguments["force"], true);
}

/// The forge protects the default branch as GitHub does by default: the real git's force push
/// or deletion of main is rejected (GH006), a fast-forward is not, and other branches take both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_forge_refuses_force_pushes_to_its_default_branch() {
    let w = World::start().await;
    let other = tempfile::tempdir().unwrap();
    let url = w.forge.clone_url("acme", "widgets", "bob");
    git(other.path(), &["clone", "-q", &url, "."]);
    let before = w.remote_branch("main").unwrap();
    let push = |args: &[&str]| {
        let out = Command::new("git")
            .args(args)
            .current_dir(other.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    git(other.path(), &["reset", "-q", "--hard", "HEAD~1"]);
    let (ok, err) = push(&["push", "-f", "origin", "main"]);
    assert!(!ok);
    assert!(
        err.contains("GH006: Protected branch update failed for refs/heads/main."),
        "{err}"
    );
    assert!(err.contains("[remote rejected] main -> main"), "{err}");
    let (ok, err) = push(&["push", "origin", "--delete", "main"]);
    assert!(!ok, "{err}");
    assert_eq!(w.remote_branch("main").as_deref(), Some(before.as_str()));
    // A fast-forward of main, and a force push elsewhere, go through.
    git(other.path(), &["reset", "-q", "--hard", "origin/main"]);
    std::fs::write(other.path().join("ff.txt"), "ff\n").unwrap();
    git(other.path(), &["add", "ff.txt"]);
    git(other.path(), &["commit", "-q", "-m", "ff"]);
    assert!(push(&["push", "-q", "origin", "main"]).0);
    git(
        other.path(),
        &["push", "-q", "origin", "HEAD:refs/heads/scratch"],
    );
    git(other.path(), &["reset", "-q", "--hard", "HEAD~1"]);
    assert!(push(&["push", "-q", "-f", "origin", "HEAD:scratch"]).0);
}
