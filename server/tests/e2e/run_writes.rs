//! The run form's writes against the real git (issue "Speak git and gh"): each step runs one
//! line through `bash -c` on one clone and through gitgate's `{"run": ...}` on an identical
//! clone; what each printed (standard output, then standard error, as the run form shows
//! them) and the state each left must be equal.
//!
//! Normalised: nothing in the text. Commit ids are compared as they are: git gets gitgate's
//! identity (`--git-name`, `--git-email`) and gitgate's pinned commit time (`--commit-time`)
//! through GIT_AUTHOR_*/GIT_COMMITTER_*, so the same commit has the same id on both sides
//! (stash commits excepted: libgit2 words their messages without git's final newline, so
//! stash entries are compared by message, author, time and tree, not by id). A
//! failing step is compared by its exit status only (git's and gitgate's error wording
//! differ: gitgate names what to do instead).

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::harness::{Env, Session, text};
use crate::run_form::rich_repo;

const NAME: &str = "Gitgate Tester";
const EMAIL: &str = "tester@example.com";
const TIME: &str = "1720000000";

/// What a line printed and its status, as the run form shows them.
fn real(dir: &Path, line: &str) -> (String, i32) {
    let out = Command::new("bash")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
        .env("TZ", "UTC")
        .env("GIT_AUTHOR_NAME", NAME)
        .env("GIT_AUTHOR_EMAIL", EMAIL)
        .env("GIT_COMMITTER_NAME", NAME)
        .env("GIT_COMMITTER_EMAIL", EMAIL)
        .env("GIT_AUTHOR_DATE", format!("{TIME} +0000"))
        .env("GIT_COMMITTER_DATE", format!("{TIME} +0000"))
        .output()
        .unwrap();
    let mut text = String::from_utf8(out.stdout).unwrap();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (text, out.status.code().unwrap_or(-1))
}

/// `text` with each 40-digit id in parentheses blanked.
fn without_ids(text: &str) -> String {
    text.lines()
        .map(|l| match l.rsplit_once(" (") {
            Some((head, id)) if id.len() == 41 && id.ends_with(')') => format!("{head} (<id>)\n"),
            _ => format!("{l}\n"),
        })
        .collect()
}

/// The state a step leaves: refs, HEAD, the index and worktree against HEAD, commits.
fn state(dir: &Path) -> String {
    let line = "git status --porcelain=v1 -b --untracked-files=all; git rev-parse HEAD; \
        git symbolic-ref -q HEAD; \
        git for-each-ref --format='%(refname) %(objectname)' refs/heads refs/tags; \
        git log --branches --tags --format='%H %P %an <%ae> %cn %ct %s' ; git ls-files -s; \
        git stash list --format='%gd %s %an %ct %T'; \
        find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha1sum";
    real(dir, line).0
}

/// One step: shell commands preparing both clones (may be empty), then the line compared.
const STEPS: &[(&str, &str)] = &[
    (
        "echo new > new.txt && echo more >> README.md",
        "git add new.txt",
    ),
    ("", "git add README.md"),
    ("", "git commit -m 'Add new.txt' -m 'With a body.'"),
    ("echo again >> new.txt", "git commit -am 'Change new.txt'"),
    ("", "git commit --allow-empty -m 'Nothing changed'"),
    ("echo gone > tmp.txt", "git add -A"),
    ("", "git commit -q -m 'quiet commit'"),
    ("git rm -q tmp.txt", "git commit -m 'Remove tmp.txt'"),
    (
        "git mv src/extra.rs src/more.rs",
        "git commit -m 'Rename extra'",
    ),
    ("", "git branch topic"),
    ("", "git branch from-v1 v0.1"),
    ("", "git switch topic"),
    ("echo topic >> README.md", "git commit -am 'On topic'"),
    ("", "git switch main"),
    ("", "git switch main"),
    ("", "git switch -c side"),
    ("", "git switch -c side2 v0.2"),
    ("", "git switch --detach v0.1"),
    ("", "git switch main"),
    ("", "git checkout topic"),
    ("", "git checkout -b topic2"),
    ("", "git checkout -b topic3 main"),
    ("", "git checkout v0.2"),
    ("", "git checkout main"),
    ("echo local >> README.md", "git switch topic2"),
    ("", "git checkout -- README.md"),
    (
        "echo x >> README.md && echo y >> src/lib.rs",
        "git checkout README.md src/lib.rs",
    ),
    ("echo z >> README.md", "git restore README.md"),
    (
        "echo z >> README.md && git add README.md",
        "git restore --staged README.md",
    ),
    ("", "git restore README.md"),
    ("", "git branch -d side"),
    ("", "git branch -D from-v1 topic3"),
    ("", "git branch -d topic"),
    ("", "git branch -d nosuch"),
    ("", "git branch -d main"),
    ("", "git switch nosuch"),
    ("", "git tag v1"),
    ("", "git tag v0 HEAD~2"),
    ("", "git tag -a v2 -m 'Release two' -m 'Notes.'"),
    ("", "git tag -m 'implied annotation' v3 v0.1"),
    ("", "git tag v1"),
    ("echo a >> README.md && git add README.md", "git reset"),
    ("git add README.md", "git reset -q"),
    ("git add README.md", "git reset -- README.md"),
    ("git add README.md", "git reset HEAD -- README.md"),
    ("", "git reset --soft HEAD~1"),
    ("", "git reset --mixed HEAD~1"),
    ("", "git reset --hard v2"),
    ("echo b >> new.txt", "git reset --hard"),
    ("", "git rm src/more.rs"),
    ("", "git rm src"),
    ("", "git rm -r --cached src"),
    ("", "git reset -q --hard"),
    ("echo c >> README.md", "git rm README.md"),
    ("", "git rm --cached README.md"),
    ("", "git reset -q --hard"),
    ("", "git rm -q docs/guide.md"),
    ("", "git rm nosuch"),
    ("", "git commit -qm 'Remove the guide'"),
    ("", "git mv README.md README.txt"),
    ("", "git mv new.txt src"),
    ("", "git mv src lib"),
    ("", "git mv nosuch x"),
    ("", "git mv README.txt lib/lib.rs"),
    ("echo d > d.txt", "git add ."),
    ("", "git commit -m 'Moves'"),
    ("", "git branch old v0.1"),
    ("", "git switch -q old"),
    ("", "git merge --ff-only v0.2"),
    ("", "git merge v0.2"),
    ("", "git merge --ff-only main"),
    ("", "git merge main"),
    ("", "git switch -q -c b2 v0.1"),
    (
        "echo q > q.txt && git add q.txt && git commit -qm q",
        "git merge feature",
    ),
    ("", "git switch -q main"),
    ("", "git merge --no-ff -m 'Bring b2 in' b2"),
    ("", "git switch -q -c c1 v0.2"),
    (
        "echo c1 > README.md && git commit -qam c1",
        "git merge main",
    ),
    ("", "git merge --ff-only feature"),
    ("", "git switch -q -c x1 main"),
    (
        "echo one > conflict.txt && git add conflict.txt && git commit -qm one",
        "git switch -q -c x2 main",
    ),
    (
        "echo two > conflict.txt && git add conflict.txt && git commit -qm two",
        "git merge x1",
    ),
    (
        "git switch -q main && echo base > c.txt && git add c.txt && git commit -qm base",
        "git switch -q -c y1",
    ),
    (
        "echo y1 > c.txt && git commit -qam y1",
        "git switch -q main",
    ),
    (
        "echo main > c.txt && git commit -qam main-c",
        "git merge y1",
    ),
    ("", "git merge -q x1"),
    ("", "git stash"),
    ("echo s1 >> c.txt", "git stash"),
    (
        "echo s2 >> conflict.txt && git add conflict.txt",
        "git stash push -m 'second one'",
    ),
    ("", "git stash list"),
    ("", "git stash show"),
    ("", "git stash show -p stash@{1}"),
    ("", "git stash apply"),
    ("git checkout -q -- .", "git stash pop stash@{1}"),
    ("", "git stash list"),
    ("", "git stash drop"),
    ("", "git stash list"),
    ("", "git stash drop"),
    // Tracked files only, from the index or from a revision; the previous branch.
    (
        "git reset -q --hard && echo t > t.txt && git add t.txt && git commit -qm t && \
         echo u >> t.txt && echo n > fresh.txt",
        "git add -u",
    ),
    ("echo v >> t.txt", "git add --update t.txt"),
    ("", "git add -u fresh.txt"),
    (
        "git commit -qm updated",
        "git restore --source=HEAD~1 t.txt",
    ),
    ("", "git restore -s HEAD --staged --worktree t.txt"),
    ("", "git restore --source HEAD~1 --staged t.txt"),
    ("", "git restore -s HEAD~1 -- nosuch.txt"),
    ("git reset -q --hard", "git restore -s HEAD~2 t.txt"),
    ("git reset -q --hard", "git restore -s v0.1 README.md"),
    ("git reset -q --hard", "git checkout HEAD~1 -- t.txt"),
    ("git reset -q --hard", "git checkout HEAD~1 t.txt"),
    ("git reset -q --hard", "git checkout HEAD~2 -- t.txt"),
    ("git reset -q --hard", "git checkout v0.1 -- src"),
    (
        "git reset -q --hard && mkdir d && echo a > d/a.txt && git add d && git commit -qm d1 && \
         echo n > d/n.txt && git add d && git commit -qm d2 && echo m >> d/a.txt",
        "git checkout HEAD~1 -- d",
    ),
    ("git reset -q --hard", "git restore -s HEAD~1 -SW d"),
    ("git reset -q --hard", "git restore -s HEAD~1 d"),
    ("git reset -q --hard", "git restore -s HEAD~1 --staged d"),
    ("git reset -q --hard", "git checkout -- nosuch.txt"),
    (
        "git reset -q --hard && git switch -q -c sw1",
        "git switch -",
    ),
    ("", "git switch -"),
    ("", "git checkout -"),
    (
        "git switch -q --detach HEAD~1 && git switch -q sw1",
        "git switch -",
    ),
    ("", "git checkout -"),
    ("", "git switch -q -"),
];

/// Every step prints the same and leaves the same state through gitgate as through git.
#[tokio::test]
async fn write_lines_do_what_git_does() {
    let mut env = Env::new();
    env.repo = rich_repo();
    let theirs = rich_repo();
    let (ours, theirs) = (env.repo.path().to_owned(), theirs);
    let session = Session::stdio(
        &env,
        &[
            "--lean",
            "--git-name",
            NAME,
            "--git-email",
            EMAIL,
            "--commit-time",
            TIME,
        ],
    )
    .await;
    let mut mismatches = Vec::new();
    for (setup, line) in STEPS {
        if !setup.is_empty() {
            for dir in [ours.as_path(), theirs.path()] {
                let (said, status) = real(dir, setup);
                assert_eq!(status, 0, "{setup}: {said}");
            }
        }
        let (expected, status) = real(theirs.path(), line);
        if status != 0 && line.starts_with("git merge") {
            // Intended difference 10: gitgate leaves no merge half done; git's is aborted.
            real(theirs.path(), "git merge --abort 2>/dev/null; true");
        }
        let mut got = String::new();
        let mut got_status = 0;
        // A line of several commands (`;`) is run by gitgate command by command as well.
        let result = session.call("gitgate", json!({ "run": line })).await;
        let said = text(&result);
        if result.is_error == Some(true) {
            got_status = said
                .rsplit_once("[exit status ")
                .and_then(|(_, n)| n.trim_end_matches(']').parse().ok())
                .unwrap_or(-1);
        }
        got.push_str(&said);
        // Stash ids differ (see above): `Dropped stash@{N} (<id>)` is compared without its id.
        let (expected, got) = if line.starts_with("git stash") {
            (without_ids(&expected), without_ids(&got))
        } else {
            (expected, got)
        };
        let same_text = status != 0 || got == expected;
        if !same_text || got_status != status {
            mismatches.push(format!(
                "{line}\n--- git ({status})\n{expected}--- gitgate ({got_status})\n{got}\n"
            ));
        }
        let (a, b) = (state(theirs.path()), state(&ours));
        if a != b {
            mismatches.push(format!(
                "{line}: states differ\n--- git\n{a}--- gitgate\n{b}"
            ));
            break;
        }
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// A user who may only read runs a write through the run form: the operation is refused by
/// policy as a call of its JSON tool, audited under the run call's event, and nothing changes.
#[tokio::test]
async fn a_reader_cannot_commit_through_a_line() {
    let env = Env::new();
    let alice = env.user("alice", "git:read", &["app"]).await;
    let server = crate::harness::spawn_http(&env, &["--lean"]);
    let a = crate::harness::connect_http(&server.url, &alice)
        .await
        .unwrap();
    let before = state(env.repo.path());
    let serde_json::Value::Object(args) =
        json!({ "run": "git log -n1 --format=%s && git commit --allow-empty -m 'sneaky'" })
    else {
        unreachable!()
    };
    let r = a
        .call_tool(rmcp::model::CallToolRequestParams::new("gitgate").with_arguments(args))
        .await
        .unwrap();
    let said = text(&r);
    assert_eq!(r.is_error, Some(true), "{said}");
    assert!(said.starts_with("second commit\nfatal: "), "{said}");
    assert!(said.contains("lacks scope git:write"), "{said}");
    assert!(said.ends_with("[exit status 128]"), "{said}");
    assert_eq!(state(env.repo.path()), before);

    let events = env.audit().await;
    let run = events
        .iter()
        .find(|e| e.tool == "gitgate" && e.user == "alice")
        .expect("the run call's event");
    let inner: Vec<_> = events
        .iter()
        .filter(|e| e.parent.as_deref() == Some(run.id.as_str()))
        .map(|e| {
            (
                e.tool.as_str(),
                e.decision.allowed,
                e.decision.rule.as_str(),
            )
        })
        .collect();
    assert_eq!(
        inner,
        [
            ("git_log", true, inner[0].2),
            ("git_commit", false, "denied:missing-scope:git:write")
        ]
    );
}

/// Intended difference 7: `git blame FILE` blames the file as committed at HEAD; git would
/// also show the worktree's uncommitted lines (as "Not Committed Yet").
#[tokio::test]
async fn blame_reads_the_committed_file() {
    let mut env = Env::new();
    env.repo = rich_repo();
    let session = Session::stdio(&env, &["--lean"]).await;
    let (committed, _) = real(env.repo.path(), "git blame README.md");
    std::fs::write(env.repo.path().join("README.md"), "changed\n").unwrap();
    let result = session
        .call("gitgate", json!({ "run": "git blame README.md" }))
        .await;
    assert_eq!(text(&result), committed);
    let (worktree, _) = real(env.repo.path(), "git blame README.md");
    assert!(worktree.contains("Not Committed Yet"), "{worktree}");

    // No match is status 1 with nothing printed, as git.
    let result = session
        .call("gitgate", json!({ "run": "git grep no-such-text" }))
        .await;
    assert_eq!(result.is_error, Some(true));
    assert_eq!(text(&result), "[exit status 1]");

    // Intended difference 11: no server paths.
    let result = session
        .call("gitgate", json!({ "run": "git rev-parse --show-toplevel" }))
        .await;
    assert_eq!(result.is_error, Some(true));
    let said = text(&result);
    assert!(said.contains("does not show the server's paths"), "{said}");
    assert!(
        !said.contains(&env.repo.path().display().to_string()),
        "{said}"
    );
}

/// Paths that leave the repository are refused by every command that takes one, and the
/// repository is left as it was.
#[tokio::test]
async fn paths_outside_the_repository_are_refused() {
    let mut env = Env::new();
    env.repo = rich_repo();
    let session = Session::stdio(&env, &["--lean"]).await;
    let before = state(env.repo.path());
    for line in [
        "git add ../outside",
        "git add /etc/passwd",
        "git rm ../outside",
        "git rm -r --cached /etc",
        "git mv README.md ../moved",
        "git mv ../outside inside",
        "git restore ../outside",
        "git checkout -- ../outside",
        "git reset -- ../outside",
        "git blame ../outside",
        "git grep hello -- ../",
        "git grep -l root /etc",
        "git ls-tree HEAD ../",
        "git cat-file -p HEAD:../outside",
        "git cat-file -p HEAD:.git/config",
        "git switch -c x --upload-pack=evil",
        "git tag -- -evil",
        "git branch -evil",
    ] {
        let result = session.call("gitgate", json!({ "run": line })).await;
        assert_eq!(result.is_error, Some(true), "{line}: {}", text(&result));
    }
    assert_eq!(state(env.repo.path()), before);
}
