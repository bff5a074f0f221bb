//! Branches, as `git branch -v`, and the upstream tracking that `status` shares.

use git2::{BranchType, Oid, Repository};
use serde::Deserialize;
use serde_json::{Value, json};

use super::fmt::unique_short_id;
use super::rev::head_target;
use super::{Error, Output, Repo, more_line};

/// Field names a `json: [...]` projection may ask for (the tool's schema lists them).
pub const FIELDS: &[&str] = &["name", "current", "sha", "subject", "upstream", "remote"];

/// Arguments of `git_branches`; doc comments become the tool's schema (keep them short: tokens).
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BranchesArgs {
    /// Include remote-tracking branches.
    pub all: Option<bool>,
    /// Default 100.
    pub limit: Option<usize>,
    /// Like --merged REV.
    pub merged: Option<String>,
    pub no_merged: Option<String>,
    pub contains: Option<String>,
}

/// One listed branch before its commit is looked up.
struct Row {
    /// What the data calls it: `main`, `origin/main`, or `HEAD` when detached.
    name: String,
    /// What the text calls it: `main`, `remotes/origin/main`, `(HEAD detached at abc1234)`.
    label: String,
    /// The full reference name, for upstream lookup (local branches only).
    refname: Option<String>,
    target: Option<Oid>,
    /// For a symbolic remote ref (`origin/HEAD`), what it points to (`origin/main`).
    points_to: Option<String>,
    current: bool,
    remote: bool,
}

/// Runs `git_branches`.
pub fn branches(repo: &Repo, args: &BranchesArgs) -> Result<Output, Error> {
    let limit = args.limit.unwrap_or(100);
    let git = repo.lock();
    let (detached, unborn) = head_row(&git)?;
    let mut rows: Vec<Row> = detached.into_iter().collect();
    let mut locals = list(&git, BranchType::Local)?;
    let mut remotes = if args.all.unwrap_or(false) {
        list(&git, BranchType::Remote)?
    } else {
        Vec::new()
    };
    locals.sort_by(|a, b| a.name.cmp(&b.name));
    remotes.sort_by(|a, b| a.name.cmp(&b.name));
    rows.extend(locals);
    rows.extend(remotes);
    let mut rows = filtered(&git, rows, args)?;

    let total = rows.len();
    rows.truncate(limit);
    let (mut text, data) = render(&git, &rows);
    drop(git);
    if total == 0 {
        text = match unborn {
            Some(branch) => format!(
                "(no branches: no commits yet on {})",
                branch.strip_prefix("refs/heads/").unwrap_or(&branch)
            ),
            None => "(no branches)".into(),
        };
    }
    let more = more_line(
        &mut text,
        total.saturating_sub(limit),
        "branches",
        &format!("pass limit={total}"),
    );
    Ok(Output {
        text: text.trim_end_matches('\n').to_owned(),
        data: Value::Array(data),
        fields: FIELDS,
        more,
    })
}

/// The rows `merged`, `no_merged` and `contains` keep (as `git branch --merged R` etc.).
fn filtered(git: &Repository, rows: Vec<Row>, args: &BranchesArgs) -> Result<Vec<Row>, Error> {
    let resolve = |rev: &Option<String>| -> Result<Option<Oid>, Error> {
        rev.as_deref()
            .map(|r| Ok(super::resolve_commit(git, &super::safety::RevSpec::new(r)?)?.id()))
            .transpose()
    };
    let (merged, no_merged, contains) = (
        resolve(&args.merged)?,
        resolve(&args.no_merged)?,
        resolve(&args.contains)?,
    );
    if merged.is_none() && no_merged.is_none() && contains.is_none() {
        return Ok(rows);
    }
    // `a` is `b` or one of its ancestors.
    let within =
        |a: Oid, b: Oid| -> Result<bool, Error> { Ok(a == b || git.graph_descendant_of(b, a)?) };
    let mut kept = Vec::with_capacity(rows.len());
    for row in rows {
        let Some(tip) = row.target else {
            continue;
        };
        let keep = merged.map_or(Ok(true), |m| within(tip, m))?
            && !no_merged.map_or(Ok(false), |m| within(tip, m))?
            && contains.map_or(Ok(true), |c| within(c, tip))?;
        if keep {
            kept.push(row);
        }
    }
    Ok(kept)
}

/// What HEAD adds to the list: the first row when it is detached, or the reference it names
/// when that branch is unborn.
fn head_row(git: &Repository) -> Result<(Option<Row>, Option<String>), Error> {
    match git.head() {
        Ok(head) if !head.is_branch() => Ok((
            head.target().map(|oid| Row {
                name: "HEAD".into(),
                label: format!("(HEAD detached at {})", unique_short_id(git, oid)),
                refname: None,
                target: Some(oid),
                points_to: None,
                current: true,
                remote: false,
            }),
            None,
        )),
        Ok(_) => Ok((None, None)),
        Err(e) if e.code() == git2::ErrorCode::UnbornBranch => Ok((None, head_target(git))),
        Err(e) => Err(e.into()),
    }
}

/// `* name  1a2b3c4 [ahead 1] subject` per row (labels padded to the widest), and the records.
fn render(git: &Repository, rows: &[Row]) -> (String, Vec<Value>) {
    let width = rows
        .iter()
        .map(|r| r.label.chars().count())
        .max()
        .unwrap_or(0);
    let mut text = String::new();
    let mut data = Vec::with_capacity(rows.len());
    for row in rows {
        let marker = if row.current { '*' } else { ' ' };
        if let Some(to) = &row.points_to {
            text.push_str(&format!("{marker} {:<width$} -> {to}\n", row.label));
            data.push(
                json!({"name": row.name, "current": false, "sha": row.target.map(|o| o.to_string()),
                "subject": Value::Null, "upstream": Value::Null, "remote": true}),
            );
            continue;
        }
        let Some(oid) = row.target else { continue };
        let subject = git
            .find_commit(oid)
            .ok()
            .and_then(|c| {
                c.summary_bytes()
                    .map(|s| String::from_utf8_lossy(s).into_owned())
            })
            .unwrap_or_default();
        let tracking = row
            .refname
            .as_deref()
            .and_then(|refname| tracking(git, refname, oid));
        let counts = tracking
            .as_ref()
            .and_then(|t| t.counts.label())
            .map(|l| format!("[{l}] "))
            .unwrap_or_default();
        text.push_str(&format!(
            "{marker} {label:<width$} {short} {counts}{subject}\n",
            label = row.label,
            short = unique_short_id(git, oid),
        ));
        data.push(json!({
            "name": row.name,
            "current": row.current,
            "sha": oid.to_string(),
            "subject": subject,
            "upstream": tracking.map(|t| t.upstream),
            "remote": row.remote,
        }));
    }
    (text, data)
}

fn list(git: &Repository, kind: BranchType) -> Result<Vec<Row>, Error> {
    let mut rows = Vec::new();
    for branch in git.branches(Some(kind))? {
        let (branch, _) = branch?;
        let current = kind == BranchType::Local && branch.is_head();
        let reference = branch.get();
        let full = String::from_utf8_lossy(reference.name_bytes()).into_owned();
        let (name, label) = match kind {
            BranchType::Local => {
                let name = full.strip_prefix("refs/heads/").unwrap_or(&full).to_owned();
                (name.clone(), name)
            }
            BranchType::Remote => {
                let name = full
                    .strip_prefix("refs/remotes/")
                    .unwrap_or(&full)
                    .to_owned();
                let label = format!("remotes/{name}");
                (name, label)
            }
        };
        let points_to = reference.symbolic_target_bytes().map(|t| {
            let t = String::from_utf8_lossy(t);
            t.strip_prefix("refs/remotes/").unwrap_or(&t).to_owned()
        });
        let target = reference.resolve().ok().and_then(|r| r.target());
        rows.push(Row {
            name,
            label,
            refname: (kind == BranchType::Local).then_some(full),
            target,
            points_to,
            current,
            remote: kind == BranchType::Remote,
        });
    }
    Ok(rows)
}

/// A branch's configured upstream and how far apart they are.
pub(super) struct Tracking {
    /// Short name: `origin/main`, or a local branch's name.
    pub(super) upstream: String,
    pub(super) counts: Counts,
}

pub(super) enum Counts {
    /// The upstream is configured but its ref does not exist.
    Gone,
    Apart {
        ahead: usize,
        behind: usize,
    },
}

impl Counts {
    /// `gone`, `ahead 1`, `behind 2`, `ahead 1, behind 2`; nothing when even.
    pub(super) fn label(&self) -> Option<String> {
        match *self {
            Counts::Gone => Some("gone".into()),
            Counts::Apart {
                ahead: 0,
                behind: 0,
            } => None,
            Counts::Apart { ahead, behind: 0 } => Some(format!("ahead {ahead}")),
            Counts::Apart { ahead: 0, behind } => Some(format!("behind {behind}")),
            Counts::Apart { ahead, behind } => Some(format!("ahead {ahead}, behind {behind}")),
        }
    }
}

/// The upstream of the local branch `refname` (at `oid`), when one is configured.
pub(super) fn tracking(git: &Repository, refname: &str, oid: Oid) -> Option<Tracking> {
    let upstream = git.branch_upstream_name(refname).ok()?;
    let upstream = upstream.as_str().ok()?;
    let short = upstream
        .strip_prefix("refs/remotes/")
        .or_else(|| upstream.strip_prefix("refs/heads/"))
        .unwrap_or(upstream)
        .to_owned();
    let counts = match git.refname_to_id(upstream) {
        Ok(up) => {
            let (ahead, behind) = git.graph_ahead_behind(oid, up).unwrap_or((0, 0));
            Counts::Apart { ahead, behind }
        }
        Err(_) => Counts::Gone,
    };
    Some(Tracking {
        upstream: short,
        counts,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::git::testutil::Fixture;

    /// Compares the records with `git branch --format` (name, current, sha, upstream) and the
    /// text with `expected` when given.
    fn check(f: &Fixture, all: bool, expected: Option<&str>) {
        let repo = f.open();
        let args = BranchesArgs {
            all: Some(all),
            ..Default::default()
        };
        let got = branches(&repo, &args).unwrap();
        let format = "%(HEAD)|%(refname)|%(objectname)|%(upstream:short)|%(symref)";
        let mut oracle = vec!["branch", "--format", format];
        if all {
            oracle.push("-a");
        }
        let want: Vec<String> = f
            .git(&oracle)
            .lines()
            .map(|line| {
                let parts: Vec<&str> = line.split('|').collect();
                let name = match parts[1] {
                    n if n.starts_with("refs/heads/") => &n[11..],
                    n if n.starts_with("refs/remotes/") => &n[13..],
                    _ => "HEAD", // "(HEAD detached at ...)"
                };
                let sha = if parts[4].is_empty() { parts[2] } else { "-" };
                format!("{}|{name}|{sha}|{}", parts[0], parts[3])
            })
            .collect();
        let mine: Vec<String> = got
            .data
            .as_array()
            .unwrap()
            .iter()
            .map(|r| {
                let sha = if r["subject"].is_null() {
                    "-"
                } else {
                    r["sha"].as_str().unwrap()
                };
                format!(
                    "{}|{}|{sha}|{}",
                    if r["current"] == json!(true) {
                        "*"
                    } else {
                        " "
                    },
                    r["name"].as_str().unwrap(),
                    r["upstream"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(mine, want);
        if let Some(expected) = expected {
            assert_eq!(got.text, expected);
        }
    }

    /// `merged`, `no_merged` and `contains` keep the branches `git branch -a --merged` etc. list.
    #[test]
    fn filters_keep_what_git_keeps() {
        let (f, _, _) = sample();
        f.git(&["branch", "side", "feature"]);
        f.git(&["checkout", "-q", "side"]);
        f.commit("side commit", &[("b", "1\n")]);
        f.git(&["checkout", "-q", "main"]);
        for rev in ["main", "feature", "side", "HEAD~1"] {
            for (flag, args) in [
                (
                    "--merged",
                    BranchesArgs {
                        merged: Some(rev.into()),
                        ..Default::default()
                    },
                ),
                (
                    "--no-merged",
                    BranchesArgs {
                        no_merged: Some(rev.into()),
                        ..Default::default()
                    },
                ),
                (
                    "--contains",
                    BranchesArgs {
                        contains: Some(rev.into()),
                        ..Default::default()
                    },
                ),
            ] {
                let args = BranchesArgs {
                    all: Some(true),
                    ..args
                };
                let got = branches(&f.open(), &args).unwrap();
                let mut mine: Vec<String> = got
                    .data
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|r| r["name"].as_str().unwrap().to_owned())
                    .collect();
                let mut want: Vec<String> = f
                    .git(&["branch", "-a", flag, rev, "--format=%(refname:short)"])
                    .lines()
                    .map(|l| {
                        if l == "origin" {
                            "origin/HEAD".to_owned()
                        } else {
                            l.to_owned()
                        }
                    })
                    .collect();
                mine.sort();
                want.sort();
                assert_eq!(mine, want, "{flag} {rev}");
            }
        }
    }

    fn sample() -> (Fixture, String, String) {
        let f = Fixture::new();
        let first = f.commit("first commit", &[("a", "1\n")]);
        f.git(&["branch", "feature"]);
        let second = f.commit("second commit", &[("a", "2\n")]);
        f.git(&["update-ref", "refs/remotes/origin/main", &first]);
        f.git(&["update-ref", "refs/remotes/origin/feature", &first]);
        f.git(&[
            "symbolic-ref",
            "refs/remotes/origin/HEAD",
            "refs/remotes/origin/main",
        ]);
        f.git(&[
            "config",
            "remote.origin.url",
            "https://example.invalid/x.git",
        ]);
        f.git(&[
            "config",
            "remote.origin.fetch",
            "+refs/heads/*:refs/remotes/origin/*",
        ]);
        f.git(&["branch", "-q", "--set-upstream-to", "origin/main", "main"]);
        (f, first[..7].to_owned(), second[..7].to_owned())
    }

    #[test]
    fn branches_match_git() {
        let (f, first, second) = sample();
        check(
            &f,
            false,
            Some(&format!(
                "  feature {first} first commit\n* main    {second} [ahead 1] second commit"
            )),
        );
        let git_v = f.git(&["branch", "-v", "-a"]);
        assert_eq!(
            branches(
                &f.open(),
                &BranchesArgs {
                    all: Some(true),
                    ..Default::default()
                }
            )
            .unwrap()
            .text,
            git_v.trim_end()
        );
    }

    #[test]
    fn branches_detached_and_merge() {
        let (f, first, _) = sample();
        f.git(&["switch", "-q", "feature"]);
        f.commit("on feature", &[("b", "b\n")]);
        f.git(&["switch", "-q", "main"]);
        f.git(&["merge", "-q", "--no-edit", "feature"]);
        check(&f, true, None);
        f.git(&["switch", "-q", "--detach", &first]);
        check(&f, false, None);
        let got = branches(&f.open(), &BranchesArgs::default()).unwrap();
        assert!(
            got.text.starts_with(&format!(
                "* (HEAD detached at {first}) {first} first commit"
            )),
            "{}",
            got.text
        );
        assert_eq!(got.text, f.git(&["branch", "-v"]).trim_end());
    }

    #[test]
    fn branches_gone_upstream() {
        let (f, _, _) = sample();
        f.git(&["update-ref", "-d", "refs/remotes/origin/main"]);
        check(&f, false, None);
        assert_eq!(
            branches(&f.open(), &BranchesArgs::default()).unwrap().text,
            f.git(&["branch", "-v"]).trim_end()
        );
    }

    #[test]
    fn branches_bounded() {
        let (f, _, _) = sample();
        for i in 0..5 {
            f.git(&["branch", &format!("topic-{i}")]);
        }
        let got = branches(
            &f.open(),
            &BranchesArgs {
                all: Some(false),
                limit: Some(2),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(
            got.more.as_deref(),
            Some("... 5 more branches; pass limit=7")
        );
        assert_eq!(got.text.lines().count(), 3);
    }

    #[test]
    fn branches_empty_repository() {
        let f = Fixture::new();
        let got = branches(&f.open(), &BranchesArgs::default()).unwrap();
        assert_eq!(got.text, "(no branches: no commits yet on main)");
        check(&f, true, None);
    }

    #[test]
    fn branches_on_long_history() {
        let f = crate::git::testutil::long_history(1000);
        f.git(&["branch", "old", "main~999"]);
        f.git(&["branch", "-q", "--set-upstream-to", "main", "old"]);
        check(&f, false, None);
        let got = branches(&f.open(), &BranchesArgs::default()).unwrap();
        assert_eq!(got.text, f.git(&["branch", "-v"]).trim_end());
        assert!(got.text.contains("[behind 999]"), "{}", got.text);
    }
}
