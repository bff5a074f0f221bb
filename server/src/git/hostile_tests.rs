//! Hostile repositories: nothing a repository configures may run, and no input may leave scope.
//!
//! Each repository is built with the real git first, then armed: hooks, `core.hooksPath`,
//! `core.fsmonitor`, filter drivers, textconv, `diff.external`, `core.sshCommand`, `gpg.program`,
//! a pager, config reached through `include`, a promisor remote and automatic gc. Every program
//! they name writes its own marker file; every gitgate operation then runs on the repository and
//! no marker may appear. [`hostile_scripts_really_write_markers`] proves the markers would appear
//! if anything ran them, so the other tests can fail.

#![allow(clippy::unwrap_used, clippy::disallowed_methods)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::testutil::{Fixture, git_in};
use super::{
    AddArgs, BlameArgs, BranchesArgs, CommitArgs, CreateBranchArgs, DiffArgs, Error, GrepArgs,
    Identity, LogArgs, LsFilesArgs, Output, ReadFileArgs, Repo, RestoreArgs, ShowArgs, StatusArgs,
    SwitchArgs,
};

/// Hooks git runs around the operations gitgate offers (and a few more).
const HOOKS: &[&str] = &[
    "pre-commit",
    "prepare-commit-msg",
    "commit-msg",
    "post-commit",
    "post-checkout",
    "post-merge",
    "post-rewrite",
    "reference-transaction",
    "pre-auto-gc",
    "post-index-change",
    "fsmonitor-watchman",
    "pre-push",
];

/// Content no operation may ever hand back: it lives outside the served worktree.
const SECRET: &str = "TOPSECRET-outside-the-repository";

/// A directory of scripts that each write a distinct marker when run.
struct Armory {
    dir: tempfile::TempDir,
}

impl Armory {
    fn new() -> Self {
        let a = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        for sub in ["markers", "scripts", "hooks"] {
            std::fs::create_dir(a.path().join(sub)).unwrap();
        }
        a
    }

    fn path(&self) -> PathBuf {
        self.dir.path().canonicalize().unwrap()
    }

    /// Writes an executable script at `dir/name` that records `marker` and then runs `tail`.
    fn script(&self, dir: &Path, name: &str, marker: &str, tail: &str) -> PathBuf {
        let path = dir.join(name);
        let markers = self.path().join("markers");
        let body = format!(
            "#!/bin/sh\necho \"$0 $*\" > '{}/{marker}'\n{tail}\n",
            markers.display()
        );
        std::fs::write(&path, body).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    /// A script in `scripts/` whose marker is its own name.
    fn tool(&self, name: &str, tail: &str) -> String {
        let dir = self.path().join("scripts");
        self.script(&dir, name, name, tail).display().to_string()
    }

    /// The markers written so far.
    fn markers(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path().join("markers"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// Every executable this armory wrote.
    fn all_scripts(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for sub in ["scripts", "hooks"] {
            for e in std::fs::read_dir(self.path().join(sub)).unwrap() {
                out.push(e.unwrap().path());
            }
        }
        out.sort();
        out
    }

    /// Arms the repository at `repo` (worktree root): hooks in `.git/hooks`, a hostile
    /// `core.hooksPath`, and config entries (some reached only through `include.path`).
    fn arm(&self, repo: &Path) {
        let git_hooks = repo.join(".git/hooks");
        std::fs::create_dir_all(&git_hooks).unwrap();
        let hooks_path = self.path().join("hooks");
        for hook in HOOKS {
            self.script(&git_hooks, hook, &format!("hook-{hook}"), "exit 0");
            self.script(&hooks_path, hook, &format!("hookspath-{hook}"), "exit 0");
        }
        let pass = "exec cat";
        let included = self.path().join("included.config");
        std::fs::write(
            &included,
            format!(
                "[filter \"inc\"]\n\tclean = {}\n\tsmudge = {}\n\
                 [diff \"inc\"]\n\ttextconv = {}\n\
                 [core]\n\tsshCommand = {}\n",
                self.tool("inc-filter-clean", pass),
                self.tool("inc-filter-smudge", pass),
                self.tool("inc-textconv", "cat \"$1\""),
                self.tool("inc-ssh", "exit 1"),
            ),
        )
        .unwrap();
        let config = format!(
            "[core]\n\
             \thooksPath = {hooks}\n\
             \tfsmonitor = {fsmonitor}\n\
             \tpager = {pager}\n\
             \teditor = {editor}\n\
             \taskPass = {askpass}\n\
             \tsshCommand = {ssh}\n\
             [filter \"evil\"]\n\tclean = {clean}\n\tsmudge = {smudge}\n\
             [filter \"proc\"]\n\tprocess = {process}\n\
             [diff \"evil\"]\n\ttextconv = {textconv}\n\tcommand = {diffcmd}\n\
             [diff]\n\texternal = {external}\n\
             [merge \"evil\"]\n\tdriver = {merge}\n\
             [gpg]\n\tprogram = {gpg}\n\
             [gpg \"ssh\"]\n\tprogram = {gpgssh}\n\
             [commit]\n\tgpgSign = true\n\
             [tag]\n\tgpgSign = true\n\
             [sequence]\n\teditor = {editor}\n\
             [credential]\n\thelper = !{credential}\n\
             [gc]\n\tauto = 1\n\tautoPackLimit = 1\n\tautoDetach = false\n\
             [maintenance]\n\tauto = true\n\
             [protocol \"ext\"]\n\tallow = always\n\
             [remote \"origin\"]\n\turl = ext::{ext} %S\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n\
             \tpromisor = true\n\tpartialclonefilter = blob:none\n\tuploadpack = {uploadpack}\n\
             [remote \"script\"]\n\turl = {remote}\n\
             [include]\n\tpath = {included}\n",
            hooks = hooks_path.display(),
            fsmonitor = self.tool("fsmonitor", "exit 0"),
            pager = self.tool("pager", pass),
            editor = self.tool("editor", "exit 0"),
            askpass = self.tool("askpass", "exit 1"),
            ssh = self.tool("ssh", "exit 1"),
            clean = self.tool("filter-clean", pass),
            smudge = self.tool("filter-smudge", pass),
            process = self.tool("filter-process", "exit 1"),
            textconv = self.tool("textconv", "cat \"$1\""),
            diffcmd = self.tool("diff-command", "exit 0"),
            external = self.tool("diff-external", "exit 0"),
            merge = self.tool("merge-driver", "exit 1"),
            gpg = self.tool("gpg", "exit 1"),
            gpgssh = self.tool("gpg-ssh", "exit 1"),
            credential = self.tool("credential", "exit 1"),
            ext = self.tool("ext-remote", "exit 1"),
            uploadpack = self.tool("upload-pack", "exit 1"),
            remote = self.tool("remote-script", "exit 1"),
            included = included.display(),
        );
        let mut text = std::fs::read_to_string(repo.join(".git/config")).unwrap();
        text.push_str(&config);
        std::fs::write(repo.join(".git/config"), text).unwrap();
    }
}

/// A repository with history, branches, a modified, a staged and an untracked file, and
/// attributes that route every path through a hostile filter and diff driver. Built with git
/// before [`Armory::arm`], so git itself never meets the armed configuration.
fn unarmed() -> Fixture {
    let f = Fixture::new();
    f.commit(
        "base",
        &[
            (
                ".gitattributes",
                "*.txt filter=evil diff=evil merge=evil\n*.md filter=inc diff=inc\n*.dat filter=proc\n",
            ),
            ("a.txt", "one\ntwo\nthree\n"),
            ("b.md", "# title\n"),
            ("c.dat", "data\n"),
            ("dir/d.txt", "d\n"),
        ],
    );
    f.git(&["branch", "other"]);
    f.commit("second", &[("a.txt", "one\nTWO\nthree\n")]);
    f.git(&["switch", "-q", "other"]);
    f.commit("on other", &[("e.txt", "e\n"), ("b.md", "# other\n")]);
    f.git(&["switch", "-q", "main"]);
    f
}

/// [`unarmed`] plus worktree changes, armed.
fn hostile() -> (Fixture, Armory) {
    let f = unarmed();
    dirty(&f);
    let armory = Armory::new();
    armory.arm(&f.path());
    (f, armory)
}

fn dirty(f: &Fixture) {
    f.write("dir/d.txt", "d changed\n");
    f.write("c.dat", "data staged\n");
    f.git(&["add", "c.dat"]);
    f.write("new.txt", "untracked\n");
}

fn me() -> Identity {
    Identity {
        name: "Agent".into(),
        email: "agent@example.com".into(),
    }
}

fn strs(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// Runs every git operation of the crate on `repo`, in every mode, and returns what each said.
/// Errors are expected (some operations may still be stubs, some calls are meant to fail); the
/// point is what runs, checked by the caller.
fn run_every_operation(repo: &Repo) -> Vec<(String, Result<Output, Error>)> {
    let mut out: Vec<(String, Result<Output, Error>)> = Vec::new();
    let reads = |out: &mut Vec<(String, Result<Output, Error>)>| {
        out.push(("status".into(), super::status(repo, &StatusArgs::default())));
        out.push((
            "status paths".into(),
            super::status(
                repo,
                &StatusArgs {
                    paths: strs(&["dir"]),
                    ..Default::default()
                },
            ),
        ));
        out.push(("log".into(), super::log(repo, &LogArgs::default())));
        out.push((
            "log paths".into(),
            super::log(
                repo,
                &LogArgs {
                    rev: Some("other".into()),
                    paths: strs(&["a.txt"]),
                    grep: Some("o".into()),
                    author: Some("Test".into()),
                    ..Default::default()
                },
            ),
        ));
        out.push(("show".into(), super::show(repo, &ShowArgs::default())));
        out.push((
            "show stat".into(),
            super::show(
                repo,
                &ShowArgs {
                    rev: Some("other".into()),
                    stat: Some(true),
                    ..Default::default()
                },
            ),
        ));
        out.push((
            "show paths".into(),
            super::show(
                repo,
                &ShowArgs {
                    rev: Some("HEAD~1".into()),
                    paths: strs(&["a.txt"]),
                    ..Default::default()
                },
            ),
        ));
        let diffs = [
            DiffArgs::default(),
            DiffArgs {
                staged: Some(true),
                ..Default::default()
            },
            DiffArgs {
                from: Some("HEAD~1".into()),
                ..Default::default()
            },
            DiffArgs {
                from: Some("main".into()),
                to: Some("other".into()),
                ..Default::default()
            },
            DiffArgs {
                from: Some("main".into()),
                to: Some("other".into()),
                stat: Some(true),
                ..Default::default()
            },
            DiffArgs {
                paths: strs(&["dir", "a.txt"]),
                stat: Some(true),
                ..Default::default()
            },
        ];
        for (i, args) in diffs.iter().enumerate() {
            out.push((format!("diff {i}"), super::diff(repo, args)));
        }
        for rev in [None, Some("other")] {
            out.push((
                format!("blame {rev:?}"),
                super::blame(
                    repo,
                    &BlameArgs {
                        path: "a.txt".into(),
                        rev: rev.map(str::to_owned),
                        ..Default::default()
                    },
                ),
            ));
        }
        out.push((
            "branches".into(),
            super::branches(
                repo,
                &BranchesArgs {
                    all: Some(true),
                    ..Default::default()
                },
            ),
        ));
        for rev in [None, Some("other")] {
            out.push((
                format!("grep {rev:?}"),
                super::grep(
                    repo,
                    &GrepArgs {
                        pattern: "o".into(),
                        rev: rev.map(str::to_owned),
                        ..Default::default()
                    },
                ),
            ));
            out.push((
                format!("ls_files {rev:?}"),
                super::ls_files(
                    repo,
                    &LsFilesArgs {
                        rev: rev.map(str::to_owned),
                        ..Default::default()
                    },
                ),
            ));
            for path in ["a.txt", "b.md", "c.dat"] {
                out.push((
                    format!("read_file {path} {rev:?}"),
                    super::read_file(
                        repo,
                        &ReadFileArgs {
                            path: path.into(),
                            rev: rev.map(str::to_owned),
                            ..Default::default()
                        },
                    ),
                ));
            }
        }
    };
    reads(&mut out);

    out.push((
        "add paths".into(),
        super::add(
            repo,
            &AddArgs {
                paths: strs(&["dir/d.txt", "b.md"]),
                all: None,
                update: false,
            },
        ),
    ));
    out.push((
        "restore staged".into(),
        super::restore(
            repo,
            &RestoreArgs {
                paths: strs(&["dir/d.txt"]),
                staged: Some(true),
                worktree: None,
                source: None,
                overlay: false,
            },
        ),
    ));
    out.push((
        "add all".into(),
        super::add(
            repo,
            &AddArgs {
                paths: Vec::new(),
                all: Some(true),
                update: false,
            },
        ),
    ));
    out.push((
        "commit".into(),
        super::commit(
            repo,
            &CommitArgs {
                message: "hostile commit".into(),
                all: Some(true),
                allow_empty: None,
            },
            &me(),
        ),
    ));
    std::fs::write(repo.root().join("a.txt"), "scribbled\n").unwrap();
    out.push((
        "restore worktree".into(),
        super::restore(
            repo,
            &RestoreArgs {
                paths: strs(&["a.txt"]),
                staged: None,
                worktree: Some(true),
                source: None,
                overlay: false,
            },
        ),
    ));
    out.push((
        "commit all empty".into(),
        super::commit(
            repo,
            &CommitArgs {
                message: "empty".into(),
                all: Some(true),
                allow_empty: Some(true),
            },
            &me(),
        ),
    ));
    out.push((
        "create_branch".into(),
        super::create_branch(
            repo,
            &CreateBranchArgs {
                name: "fresh".into(),
                start: Some("other".into()),
            },
        ),
    ));
    for (branch, create, detach) in [
        ("other", false, false),
        ("main", false, false),
        ("made", true, false),
        ("HEAD~1", false, true),
        ("fresh", false, false),
    ] {
        out.push((
            format!("switch {branch}"),
            super::switch(
                repo,
                &SwitchArgs {
                    branch: branch.into(),
                    create: Some(create),
                    detach: Some(detach),
                    start: None,
                },
            ),
        ));
    }
    // Reads again, now that checkouts have written files through the (ignored) smudge filters.
    reads(&mut out);
    out
}

/// Asserts that no marker exists and that no successful output carries `secrets`.
fn assert_nothing_ran(armory: &Armory, results: &[(String, Result<Output, Error>)]) {
    let markers = armory.markers();
    assert!(
        markers.is_empty(),
        "programs configured by the repository ran: {markers:?}"
    );
    assert_no_secret(results, SECRET);
}

fn assert_no_secret(results: &[(String, Result<Output, Error>)], secret: &str) {
    for (what, result) in results {
        let shown = match result {
            Ok(out) => format!("{} {}", out.text, out.data),
            Err(e) => e.to_string(),
        };
        assert!(!shown.contains(secret), "{what} leaked {secret}: {shown}");
    }
}

#[test]
fn hostile_repository_runs_nothing() {
    let (f, armory) = hostile();
    let repo = f.open();
    let results = run_every_operation(&repo);
    assert_nothing_ran(&armory, &results);
    // The write operations did their work (so the test exercised the paths that would run
    // hooks, filters and signing), and the commit carries no signature.
    for (what, result) in &results {
        if [
            "add all",
            "commit",
            "create_branch",
            "switch other",
            "switch made",
        ]
        .contains(&what.as_str())
        {
            assert!(result.is_ok(), "{what}: {result:?}");
        }
    }
    let commit = git_in(&f.path(), &["cat-file", "-p", "main"], 0);
    assert!(
        commit.contains("hostile commit") || commit.contains("empty"),
        "{commit}"
    );
    assert!(!commit.contains("gpgsig"), "{commit}");
    assert!(armory.markers().is_empty());
}

/// Without this, the other tests could pass because the scripts are broken.
#[test]
fn hostile_scripts_really_write_markers() {
    let (f, armory) = hostile();
    let scripts = armory.all_scripts();
    let hooks_in_git: Vec<PathBuf> = HOOKS
        .iter()
        .map(|h| f.path().join(".git/hooks").join(h))
        .collect();
    for script in scripts.iter().chain(&hooks_in_git) {
        let status = Command::new(script)
            .arg("/dev/null")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap();
        let _ = status; // some scripts exit 1 on purpose (a failing ssh, gpg, ...)
    }
    let markers = armory.markers();
    assert_eq!(
        markers.len(),
        scripts.len() + hooks_in_git.len(),
        "{markers:?}"
    );

    // And the real git, run on a second armed repository, does run them.
    let (f, armory) = hostile();
    let lenient = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(f.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("HOME", f.path())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // git dies when a `process` filter fails its handshake, before reaching anything else, so
    // this run routes `.dat` files past it (the script itself was proven above).
    std::fs::write(f.path().join(".git/info/attributes"), "*.dat !filter\n").unwrap();
    let mut said = String::new();
    for args in [
        &["status"][..],
        &["diff"],
        &["commit", "-a", "-m", "by git"],
        &["switch", "other"],
    ] {
        let out = lenient(args);
        said.push_str(&String::from_utf8_lossy(&out.stderr));
    }
    let markers = armory.markers();
    for expected in [
        "fsmonitor",
        "filter-clean",
        "filter-smudge",
        "inc-filter-clean",
        "diff-command",
        "gpg",
        "hookspath-pre-commit",
        "hookspath-commit-msg",
        "hookspath-post-checkout",
        "hookspath-reference-transaction",
        "hookspath-post-index-change",
    ] {
        assert!(
            markers.iter().any(|m| m == expected),
            "git did not run {expected}; ran {markers:?}; git said {said}"
        );
    }
}

/// A promisor remote with a missing object: git would fetch it lazily through the remote's
/// `ext::` command. With `extensions.partialClone` libgit2 may refuse to open the repository at
/// all, which is as good.
#[test]
fn promisor_remote_is_never_contacted() {
    for with_extension in [false, true] {
        let f = unarmed();
        f.commit("lazy", &[("lazy.txt", "fetched lazily\n")]);
        let blob = f.git(&["rev-parse", "HEAD:lazy.txt"]).trim().to_owned();
        dirty(&f);
        let armory = Armory::new();
        armory.arm(&f.path());
        std::fs::remove_file(
            f.path()
                .join(".git/objects")
                .join(&blob[..2])
                .join(&blob[2..]),
        )
        .unwrap();
        if with_extension {
            let mut config = std::fs::read_to_string(f.path().join(".git/config")).unwrap();
            config = config.replace("repositoryformatversion = 0", "repositoryformatversion = 1");
            config.push_str("[extensions]\n\tpartialClone = origin\n");
            std::fs::write(f.path().join(".git/config"), config).unwrap();
        }
        match Repo::open("test", &f.path()) {
            Ok(repo) => {
                let results = run_every_operation(&repo);
                let lazy_reads = [
                    super::read_file(
                        &repo,
                        &ReadFileArgs {
                            path: "lazy.txt".into(),
                            rev: Some("main".into()),
                            ..Default::default()
                        },
                    ),
                    super::show(&repo, &ShowArgs::default()),
                ];
                let _ = lazy_reads;
                assert_nothing_ran(&armory, &results);
                // The vector is live: the real git fetches the missing blob through the remote.
                let _ = Command::new("git")
                    .args(["cat-file", "-p", &blob])
                    .current_dir(f.path())
                    .env("GIT_CONFIG_NOSYSTEM", "1")
                    .env("GIT_CONFIG_GLOBAL", "/dev/null")
                    .stdin(Stdio::null())
                    .output()
                    .unwrap();
                assert!(
                    armory.markers().contains(&"ext-remote".to_owned()),
                    "{:?}",
                    armory.markers()
                );
            }
            Err(e) => {
                assert!(with_extension, "plain promisor config must open: {e}");
                assert!(e.to_string().contains("extension"), "{e}");
                assert!(armory.markers().is_empty(), "{:?}", armory.markers());
            }
        }
    }
}

/// Refusal with an actionable message containing `want`. A colleague's operation that is still a
/// stub ("not implemented yet") is let through; once it exists, its refusal is checked here.
fn check_refused(what: &str, got: Result<Output, Error>, want: &str) {
    match got {
        Ok(out) => panic!("{what}: accepted, said {:?}", out.text),
        Err(e) => {
            let msg = e.to_string();
            if msg.contains("not implemented yet") {
                return;
            }
            assert!(msg.contains(want), "{what}: error {msg:?} lacks {want:?}");
        }
    }
}

/// Every operation that takes a path, called with `path`.
fn path_calls(repo: &Repo, path: &str) -> Vec<(String, Result<Output, Error>)> {
    let paths = strs(&[path]);
    vec![
        (
            "status".into(),
            super::status(
                repo,
                &StatusArgs {
                    paths: paths.clone(),
                    ..Default::default()
                },
            ),
        ),
        (
            "log".into(),
            super::log(
                repo,
                &LogArgs {
                    paths: paths.clone(),
                    ..Default::default()
                },
            ),
        ),
        (
            "show".into(),
            super::show(
                repo,
                &ShowArgs {
                    paths: paths.clone(),
                    ..Default::default()
                },
            ),
        ),
        (
            "diff".into(),
            super::diff(
                repo,
                &DiffArgs {
                    paths: paths.clone(),
                    ..Default::default()
                },
            ),
        ),
        (
            "diff from".into(),
            super::diff(
                repo,
                &DiffArgs {
                    from: Some("HEAD".into()),
                    paths: paths.clone(),
                    ..Default::default()
                },
            ),
        ),
        (
            "blame".into(),
            super::blame(
                repo,
                &BlameArgs {
                    path: path.into(),
                    ..Default::default()
                },
            ),
        ),
        (
            "grep".into(),
            super::grep(
                repo,
                &GrepArgs {
                    pattern: "T".into(),
                    paths: paths.clone(),
                    ..Default::default()
                },
            ),
        ),
        (
            "ls_files".into(),
            super::ls_files(
                repo,
                &LsFilesArgs {
                    paths: paths.clone(),
                    ..Default::default()
                },
            ),
        ),
        (
            "read_file".into(),
            super::read_file(
                repo,
                &ReadFileArgs {
                    path: path.into(),
                    ..Default::default()
                },
            ),
        ),
        (
            "add".into(),
            super::add(
                repo,
                &AddArgs {
                    paths: paths.clone(),
                    all: None,
                    update: false,
                },
            ),
        ),
        (
            "restore staged".into(),
            super::restore(
                repo,
                &RestoreArgs {
                    paths: paths.clone(),
                    staged: Some(true),
                    worktree: None,
                    source: None,
                    overlay: false,
                },
            ),
        ),
        (
            "restore worktree".into(),
            super::restore(
                repo,
                &RestoreArgs {
                    paths,
                    staged: None,
                    worktree: Some(true),
                    source: None,
                    overlay: false,
                },
            ),
        ),
    ]
}

/// `parent/repo` (served), `parent/repo-evil` (a sibling sharing the name prefix) and
/// `parent/elsewhere`, both holding [`SECRET`]; `parent/other` is another repository that
/// `repo/nested/.git` points at.
struct Scope {
    parent: tempfile::TempDir,
}

/// Content of the other repository reached through `nested/.git`.
const OTHER_SECRET: &str = "TOPSECRET-of-the-other-repository";

impl Scope {
    fn new() -> Self {
        let s = Self {
            parent: tempfile::tempdir().unwrap(),
        };
        let p = s.parent();
        for dir in ["repo", "repo-evil", "elsewhere", "other"] {
            std::fs::create_dir(p.join(dir)).unwrap();
        }
        std::fs::write(p.join("repo-evil/secret.txt"), SECRET).unwrap();
        std::fs::write(p.join("elsewhere/secret.txt"), SECRET).unwrap();

        let other = p.join("other");
        git_in(&other, &["init", "-q", "-b", "main"], 0);
        std::fs::write(other.join("secret.txt"), OTHER_SECRET).unwrap();
        s.git_at(&other, &["add", "-A"]);
        s.git_at(&other, &["commit", "-q", "-m", OTHER_SECRET]);

        let root = s.root();
        git_in(&root, &["init", "-q", "-b", "main"], 0);
        std::fs::create_dir(root.join("dir")).unwrap();
        std::fs::write(root.join("dir/a.txt"), "a\n").unwrap();
        std::fs::write(root.join("T.txt"), "Top\n").unwrap();
        std::os::unix::fs::symlink("../elsewhere", root.join("out")).unwrap();
        std::os::unix::fs::symlink("../repo-evil", root.join("sib")).unwrap();
        std::os::unix::fs::symlink(p.join("repo-evil"), root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../elsewhere/secret.txt", root.join("leak.txt")).unwrap();
        s.git_at(&root, &["add", "-A"]);
        s.git_at(&root, &["commit", "-q", "-m", "base"]);
        // Added after the commit so git never treats it as part of this repository.
        std::fs::create_dir(root.join("nested")).unwrap();
        std::fs::write(
            root.join("nested/.git"),
            format!("gitdir: {}\n", other.join(".git").display()),
        )
        .unwrap();
        std::fs::write(root.join("nested/readme"), "nested\n").unwrap();
        s
    }

    fn parent(&self) -> PathBuf {
        self.parent.path().canonicalize().unwrap()
    }

    fn root(&self) -> PathBuf {
        self.parent().join("repo")
    }

    fn git_at(&self, dir: &Path, args: &[&str]) -> String {
        let mut full = vec!["-c", "user.name=T", "-c", "user.email=t@example.com"];
        full.extend_from_slice(args);
        git_in(dir, &full, 0)
    }

    fn open(&self) -> Repo {
        Repo::open("scope", &self.root()).unwrap()
    }
}

#[test]
fn paths_leaving_the_worktree_are_refused_everywhere() {
    let s = Scope::new();
    let repo = s.open();
    let outside = s.parent().join("elsewhere/secret.txt");
    let cases = [
        ("../repo-evil/secret.txt", "'..' leaves the repository"),
        (
            "dir/../../elsewhere/secret.txt",
            "'..' leaves the repository",
        ),
        (outside.to_str().unwrap(), "absolute paths are refused"),
        ("/etc/passwd", "absolute paths are refused"),
        ("out/secret.txt", "points outside the repository"),
        ("sib/secret.txt", "points outside the repository"),
        ("abs/secret.txt", "points outside the repository"),
        (
            ".git/config",
            "the .git directory is not part of the worktree",
        ),
        (
            ".GIT/config",
            "the .git directory is not part of the worktree",
        ),
    ];
    for (path, want) in cases {
        for (what, got) in path_calls(&repo, path) {
            check_refused(&format!("{what} {path}"), got, want);
        }
    }
    // A symlinked file pointing outside: its target is never read through the worktree.
    for (what, got) in [
        (
            "read_file",
            super::read_file(
                &repo,
                &ReadFileArgs {
                    path: "leak.txt".into(),
                    ..Default::default()
                },
            ),
        ),
        (
            "add",
            super::add(
                &repo,
                &AddArgs {
                    paths: strs(&["leak.txt"]),
                    all: None,
                    update: false,
                },
            ),
        ),
    ] {
        check_refused(what, got, "points outside the repository");
    }
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), SECRET);
}

/// Staging and committing everything stores links as links: the secret behind them never
/// enters the object database, not even with `core.symlinks=false`.
#[test]
fn symlinks_are_staged_as_links_not_followed() {
    let s = Scope::new();
    let root = s.root();
    let mut config = std::fs::read_to_string(root.join(".git/config")).unwrap();
    config.push_str("[core]\n\tsymlinks = false\n");
    std::fs::write(root.join(".git/config"), config).unwrap();
    std::os::unix::fs::symlink("../repo-evil/secret.txt", root.join("new-leak.txt")).unwrap();
    std::fs::write(root.join("leak.txt.tmp"), "x").unwrap();
    std::fs::remove_file(root.join("leak.txt.tmp")).unwrap();
    let repo = s.open();
    let mut results = run_every_operation(&repo);
    results.push((
        "add all".into(),
        super::add(
            &repo,
            &AddArgs {
                paths: Vec::new(),
                all: Some(true),
                update: false,
            },
        ),
    ));
    results.push((
        "commit".into(),
        super::commit(
            &repo,
            &CommitArgs {
                message: "links".into(),
                all: Some(true),
                allow_empty: Some(true),
            },
            &me(),
        ),
    ));
    assert_no_secret(&results, SECRET);
    assert_no_secret(&results, OTHER_SECRET);
    let objects = git_in(&root, &["cat-file", "--batch-all-objects", "--batch"], 0);
    assert!(!objects.contains(SECRET), "a secret entered the repository");
    assert!(
        !objects.contains(OTHER_SECRET),
        "the other repository leaked in"
    );
    let staged = git_in(&root, &["ls-files", "-s"], 0);
    assert!(staged.contains("120000"), "links stay links: {staged}");
    assert!(
        !staged.contains("160000"),
        "no gitlink to the nested repository: {staged}"
    );
    assert!(!staged.contains("nested"), "{staged}");
}

/// `nested/.git` points at another repository: no operation stages into it or reads it.
#[test]
fn nested_gitfile_is_not_followed() {
    let s = Scope::new();
    let repo = s.open();
    let other_head = git_in(&s.parent().join("other"), &["rev-parse", "HEAD"], 0);
    for path in ["nested/readme", "nested"] {
        check_refused(
            &format!("add {path}"),
            super::add(
                &repo,
                &AddArgs {
                    paths: strs(&[path]),
                    all: None,
                    update: false,
                },
            ),
            "nested repository 'nested'",
        );
    }
    let mut results = run_every_operation(&repo);
    results.extend(path_calls(&repo, "nested/readme"));
    results.extend(path_calls(&repo, "nested/secret.txt"));
    assert_no_secret(&results, OTHER_SECRET);
    assert_no_secret(&results, other_head.trim());
    let staged = git_in(&s.root(), &["ls-files", "-s"], 0);
    assert!(!staged.contains("nested"), "{staged}");
}

#[test]
fn opening_anything_but_a_worktree_root_is_refused() {
    let s = Scope::new();
    let root = s.root();
    let check_open = |path: &Path, want: &str| match Repo::open("x", path) {
        Ok(repo) => panic!("{} opened as {}", path.display(), repo.root().display()),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains("cannot open repository 'x'"), "{msg}");
            assert!(msg.contains(want), "{msg} lacks {want}");
        }
    };
    check_open(&root.join("dir"), "could not find repository");
    check_open(&root.join(".git"), "not the configured path");
    check_open(&root.join("out"), "could not find repository");
    check_open(&s.parent().join("nowhere"), "No such file");

    // A gitfile redirect opens the repository it names, but the worktree stays where it is.
    match Repo::open("x", &root.join("nested")) {
        Ok(repo) => assert_eq!(repo.root(), root.join("nested")),
        Err(e) => assert!(e.to_string().contains("cannot open repository"), "{e}"),
    }

    // core.worktree pointing elsewhere is refused, not followed.
    let mut config = std::fs::read_to_string(root.join(".git/config")).unwrap();
    config.push_str(&format!(
        "[core]\n\tworktree = {}\n",
        s.parent().join("elsewhere").display()
    ));
    std::fs::write(root.join(".git/config"), config).unwrap();
    check_open(&root, "not the configured path");
}

/// Revisions and branch names starting with '-' are refused even when such a ref exists.
#[test]
fn dash_revisions_are_refused_even_when_the_ref_exists() {
    let f = Fixture::new();
    f.commit("base", &[("a.txt", "a\n")]);
    let head = f.git(&["rev-parse", "HEAD"]).trim().to_owned();
    let refs = f.path().join(".git/refs/heads");
    // git update-ref accepts `refs/heads/-x`; write the file directly if a future git does not.
    let made = Command::new("git")
        .args(["update-ref", "refs/heads/-x", &head])
        .current_dir(f.path())
        .status()
        .unwrap()
        .success();
    if !made {
        std::fs::write(refs.join("-x"), format!("{head}\n")).unwrap();
    }
    assert_eq!(f.git(&["rev-parse", "refs/heads/-x"]).trim(), head);
    let armory = Armory::new();
    let planted = armory.path().join("markers/output");
    let injected = format!("--output={}", planted.display());
    let repo = f.open();
    for rev in ["-x", "--all", injected.as_str()] {
        let r = Some(rev.to_owned());
        let calls: Vec<(&str, Result<Output, Error>)> = vec![
            (
                "log",
                super::log(
                    &repo,
                    &LogArgs {
                        rev: r.clone(),
                        ..Default::default()
                    },
                ),
            ),
            (
                "show",
                super::show(
                    &repo,
                    &ShowArgs {
                        rev: r.clone(),
                        ..Default::default()
                    },
                ),
            ),
            (
                "diff from",
                super::diff(
                    &repo,
                    &DiffArgs {
                        from: r.clone(),
                        ..Default::default()
                    },
                ),
            ),
            (
                "diff to",
                super::diff(
                    &repo,
                    &DiffArgs {
                        from: Some("HEAD".into()),
                        to: r.clone(),
                        ..Default::default()
                    },
                ),
            ),
            (
                "blame",
                super::blame(
                    &repo,
                    &BlameArgs {
                        path: "a.txt".into(),
                        rev: r.clone(),
                        ..Default::default()
                    },
                ),
            ),
            (
                "grep",
                super::grep(
                    &repo,
                    &GrepArgs {
                        pattern: "a".into(),
                        rev: r.clone(),
                        ..Default::default()
                    },
                ),
            ),
            (
                "ls_files",
                super::ls_files(
                    &repo,
                    &LsFilesArgs {
                        rev: r.clone(),
                        ..Default::default()
                    },
                ),
            ),
            (
                "read_file",
                super::read_file(
                    &repo,
                    &ReadFileArgs {
                        path: "a.txt".into(),
                        rev: r.clone(),
                        ..Default::default()
                    },
                ),
            ),
            (
                "create_branch start",
                super::create_branch(
                    &repo,
                    &CreateBranchArgs {
                        name: "y".into(),
                        start: r.clone(),
                    },
                ),
            ),
            (
                "create_branch name",
                super::create_branch(
                    &repo,
                    &CreateBranchArgs {
                        name: rev.into(),
                        start: None,
                    },
                ),
            ),
            (
                "switch",
                super::switch(
                    &repo,
                    &SwitchArgs {
                        branch: rev.into(),
                        ..Default::default()
                    },
                ),
            ),
            (
                "switch detach",
                super::switch(
                    &repo,
                    &SwitchArgs {
                        branch: rev.into(),
                        detach: Some(true),
                        ..Default::default()
                    },
                ),
            ),
        ];
        for (what, got) in calls {
            check_refused(&format!("{what} {rev}"), got, "must not start with '-'");
        }
    }
    assert!(!planted.exists(), "an option was injected");
    assert_eq!(f.git(&["branch", "--show-current"]), "main\n");
    assert!(!refs.join("y").exists());
}

/// libgit2's checkout writes through a symbolic link standing where the index or the target
/// has a file or directory; `switch` and `restore` must not let it (regression: an ignored
/// link `ign -> /outside/target` had the other branch's `ign` written into /outside/target).
#[test]
fn checkouts_never_write_through_symlinks() {
    let check = |case: &str, want: Result<&str, &str>| {
        let f = Fixture::new();
        let outside = tempfile::tempdir().unwrap();
        let target = outside.path().join("target");
        std::fs::write(&target, "orig").unwrap();
        f.commit(
            "base",
            &[("top/link/x.txt", "inside\n"), ("d/f.txt", "a\n")],
        );
        let root = f.path();
        let link = |to: &Path, at: &str| std::os::unix::fs::symlink(to, root.join(at)).unwrap();
        let on_other = |files: &[(&str, &str)]| {
            f.git(&["switch", "-q", "-c", "other"]);
            f.commit("other", files);
            f.git(&["switch", "-q", "main"]);
        };
        let repo_of = |f: &Fixture| f.open();
        let got = match case {
            "switch: ignored link where the branch has a directory" => {
                on_other(&[("ign/y.txt", "planted\n")]);
                f.commit("ignore", &[(".gitignore", "ign\n")]);
                link(outside.path(), "ign");
                super::switch(
                    &repo_of(&f),
                    &SwitchArgs {
                        branch: "other".into(),
                        ..Default::default()
                    },
                )
            }
            "switch: ignored link where the branch has a file" => {
                on_other(&[("ign", "planted\n")]);
                f.commit("ignore", &[(".gitignore", "ign\n")]);
                link(&target, "ign");
                super::switch(
                    &repo_of(&f),
                    &SwitchArgs {
                        branch: "other".into(),
                        ..Default::default()
                    },
                )
            }
            "switch: tracked directory replaced by a link" => {
                on_other(&[("top/link/new.txt", "planted\n")]);
                std::fs::remove_dir_all(root.join("top/link")).unwrap();
                link(outside.path(), "top/link");
                super::switch(
                    &repo_of(&f),
                    &SwitchArgs {
                        branch: "other".into(),
                        ..Default::default()
                    },
                )
            }
            "switch: clean tracked link becoming a file" => {
                link(&target, "s");
                f.commit("link", &[]);
                f.git(&["switch", "-q", "-c", "other"]);
                std::fs::remove_file(root.join("s")).unwrap();
                f.commit("file", &[("s", "planted\n")]);
                f.git(&["switch", "-q", "main"]);
                super::switch(
                    &repo_of(&f),
                    &SwitchArgs {
                        branch: "other".into(),
                        ..Default::default()
                    },
                )
            }
            "restore: tracked directory replaced by a link" => {
                std::fs::remove_dir_all(root.join("top/link")).unwrap();
                link(outside.path(), "top/link");
                let args = RestoreArgs {
                    paths: strs(&["top"]),
                    staged: None,
                    worktree: Some(true),
                    source: None,
                    overlay: false,
                };
                super::restore(&repo_of(&f), &args)
            }
            "restore: tracked file replaced by a link" => {
                std::fs::remove_file(root.join("d/f.txt")).unwrap();
                link(&target, "d/f.txt");
                let args = RestoreArgs {
                    paths: strs(&["d"]),
                    staged: None,
                    worktree: Some(true),
                    source: None,
                    overlay: false,
                };
                super::restore(&repo_of(&f), &args)
            }
            other => panic!("no case {other}"),
        };
        match (got, want) {
            (Ok(out), Ok(text)) => assert!(out.text.contains(text), "{case}: {}", out.text),
            (Err(e), Err(text)) => assert!(e.to_string().contains(text), "{case}: {e}"),
            (got, want) => panic!("{case}: got {got:?}, want {want:?}"),
        }
        let listing: Vec<_> = std::fs::read_dir(outside.path()).unwrap().collect();
        assert_eq!(listing.len(), 1, "{case}: a file was planted outside");
        assert_eq!(
            std::fs::read_to_string(&target).unwrap(),
            "orig",
            "{case}: wrote through"
        );
    };
    let refused =
        Err("is a symbolic link in the worktree where the target has a file or directory");
    check(
        "switch: ignored link where the branch has a directory",
        refused,
    );
    check("switch: ignored link where the branch has a file", refused);
    check(
        "switch: tracked directory replaced by a link",
        Err("'top/link' is a symbolic link"),
    );
    check(
        "switch: clean tracked link becoming a file",
        Ok("Switched to branch 'other'"),
    );
    check(
        "restore: tracked directory replaced by a link",
        Err("'top/link' is a symbolic link in the worktree where the index"),
    );
    check(
        "restore: tracked file replaced by a link",
        Ok("restored: d/f.txt"),
    );
}
