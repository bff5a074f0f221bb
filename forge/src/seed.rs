//! Deterministic fixtures. `demo` builds acme/widgets: about 200 commits by several authors,
//! branches and tags, 40 issues with labels, assignees and comments, and 10 pull requests (open,
//! merged with each method, closed) whose branches are real. Every timestamp is fixed, so commit
//! ids and API answers are identical on every run.

use std::collections::BTreeMap;
use std::path::Path;

use git2::{Oid, Repository};

use crate::git::{self, CommitBuilder, MergeMethod};
use crate::store::{self, EPOCH, NewIssue, Store, Time, User};

/// Errors while seeding.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] store::Error),
    /// Git failed.
    #[error(transparent)]
    Git(#[from] git::Error),
    /// libgit2 failed.
    #[error("git: {0}")]
    Git2(#[from] git2::Error),
    /// Writing tokens.json failed.
    #[error("writing {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// An unknown seed name.
    #[error("unknown seed {0:?} (known: demo)")]
    Unknown(String),
}

/// Result alias for seeding.
pub type Result<T> = std::result::Result<T, Error>;

const HOUR: Time = 3600;

/// The demo users: login, display name.
pub const DEMO_USERS: [(&str, &str); 4] = [
    ("alice", "Alice Liddell"),
    ("bob", "Bob Builder"),
    ("carol", "Carol Danvers"),
    ("ci-bot", "CI Bot"),
];

/// The token of a demo user (stable so scripts can hard-code them).
pub fn demo_token(login: &str) -> String {
    format!("ghp_demo_{}", login.replace('-', "_"))
}

/// Applies the named seed unless this data directory already holds it; returns login → token.
pub fn apply(name: &str, data: &Path, store: &mut Store) -> Result<BTreeMap<String, String>> {
    if name != "demo" {
        return Err(Error::Unknown(name.to_string()));
    }
    let tokens: BTreeMap<String, String> = DEMO_USERS
        .iter()
        .map(|(l, _)| (l.to_string(), demo_token(l)))
        .collect();
    if store.meta("seed")?.as_deref() != Some("demo") {
        store.transaction(|s| demo(data, s))?;
    }
    let path = data.join("tokens.json");
    let text = serde_json::to_string_pretty(&tokens).unwrap_or_default() + "\n";
    std::fs::write(&path, text).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    Ok(tokens)
}

const FILES: [&str; 8] = [
    "src/lib.rs",
    "src/widget.rs",
    "src/gear.rs",
    "src/sprocket.rs",
    "tests/widget_test.rs",
    "docs/guide.md",
    "README.md",
    "CHANGELOG.md",
];

const TOPICS: [&str; 10] = [
    "knob", "dial", "lever", "spring", "axle", "bearing", "crank", "gasket", "piston", "valve",
];

/// The topic of the open pull request (#50) whose branch has a `todo!()`, so its CI run fails.
const FAILING_TOPIC: &str = "valve";

const LABELS: [(&str, &str, &str); 7] = [
    ("bug", "d73a4a", "Something isn't working"),
    (
        "documentation",
        "0075ca",
        "Improvements or additions to documentation",
    ),
    ("enhancement", "a2eeef", "New feature or request"),
    ("good first issue", "7057ff", "Good for newcomers"),
    ("help wanted", "008672", "Extra attention is needed"),
    ("priority:high", "b60205", "Needs attention soon"),
    ("question", "d876e3", "Further information is requested"),
];

struct PullPlan {
    number: i64,
    branch: String,
    branch_point: usize,
    outcome: Outcome,
}

#[derive(Clone, Copy, PartialEq)]
enum Outcome {
    Open,
    Closed,
    Merged(MergeMethod),
}

fn plans() -> Vec<PullPlan> {
    (0..10)
        .map(|k| {
            let outcome = match k {
                0 | 6 => Outcome::Merged(MergeMethod::Merge),
                2 => Outcome::Merged(MergeMethod::Squash),
                4 => Outcome::Merged(MergeMethod::Rebase),
                1 | 5 => Outcome::Closed,
                _ => Outcome::Open,
            };
            PullPlan {
                number: 5 * (k as i64 + 1),
                branch: format!("feature/{}-{}", TOPICS[k], k + 1),
                branch_point: 20 * (k + 1) - 4,
                outcome,
            }
        })
        .collect()
}

fn main_commit_time(i: usize) -> Time {
    EPOCH + HOUR * (i as i64 + 1)
}

fn issue_time(number: i64) -> Time {
    EPOCH + 4 * HOUR * number + 15 * 60
}

fn demo(data: &Path, store: &Store) -> Result<()> {
    let acme = store.add_user(
        "acme",
        "Acme Corp",
        "hello@acme.example",
        "Organization",
        EPOCH,
    )?;
    let mut users: BTreeMap<&str, User> = BTreeMap::new();
    for (login, name) in DEMO_USERS {
        let u = store.add_user(login, name, &format!("{login}@acme.example"), "User", EPOCH)?;
        store.add_token(&u, login, &demo_token(login))?;
        users.insert(login, u);
    }
    let repo_row = store.add_repo(
        &acme,
        "widgets",
        "Widgets, gears and sprockets for the Acme toolkit",
        EPOCH,
    )?;
    for (name, color, desc) in LABELS {
        store.add_label(&repo_row, name, color, desc)?;
    }

    let path = git::repo_path(data, "acme", "widgets");
    std::fs::create_dir_all(&path).map_err(|source| Error::Io {
        path: path.display().to_string(),
        source,
    })?;
    let repo = Repository::init_bare(&path)?;
    repo.set_head("refs/heads/main")?;
    let authors = ["alice", "bob", "carol", "alice", "bob", "ci-bot", "carol"];
    let sig_of = |login: &str, t: Time| {
        let name = DEMO_USERS
            .iter()
            .find(|(l, _)| *l == login)
            .map_or(login, |(_, n)| *n);
        git::signature(name, &format!("{login}@acme.example"), t)
    };

    let plans = plans();
    let mut branch_tips: BTreeMap<i64, Oid> = BTreeMap::new();
    let mut base_before_merge: BTreeMap<i64, Oid> = BTreeMap::new();
    let mut merge_commits: BTreeMap<i64, Oid> = BTreeMap::new();
    let mut builder = CommitBuilder::new(&repo, None)?;
    let mut tip: Option<Oid> = None;
    for i in 0..200usize {
        let t = main_commit_time(i);
        let author = authors[(i * 5 + i / 7) % authors.len()];
        let message = if i == 0 {
            builder.write(
                "README.md",
                "# widgets\n\nWidgets, gears and sprockets for the Acme toolkit.\n",
            );
            builder.write(
                "src/lib.rs",
                "//! widgets\n\npub mod widget;\npub mod gear;\npub mod sprocket;\n",
            );
            builder.write("src/widget.rs", "//! Widgets.\n\npub struct Widget;\n");
            builder.write(
                "src/gear.rs",
                "//! Gears.\n\npub struct Gear { pub teeth: u32 }\n",
            );
            builder.write(
                "src/sprocket.rs",
                "//! Sprockets.\n\npub struct Sprocket;\n",
            );
            builder.write("tests/widget_test.rs", "use widgets::widget::Widget;\n");
            builder.write("docs/guide.md", "# Guide\n");
            builder.write("CHANGELOG.md", "# Changelog\n");
            "Initial commit".to_string()
        } else {
            let file = FILES[(i * 7 + 3) % FILES.len()];
            let topic = TOPICS[i % TOPICS.len()];
            let mut text =
                String::from_utf8_lossy(builder.read(file).unwrap_or_default()).into_owned();
            let line = if file.ends_with(".md") {
                format!("- {topic} note {i}\n")
            } else {
                format!("pub fn {topic}_{i}() -> u32 {{ {i} }}\n")
            };
            if i % 10 == 0 && text.lines().count() > 3 {
                // Rewrite a line so diffs show removals too.
                let mut lines: Vec<&str> = text.lines().collect();
                let at = lines.len() / 2;
                lines[at] = line.trim_end();
                text = lines.join("\n") + "\n";
            } else {
                text.push_str(&line);
            }
            builder.write(file, text);
            let area = file
                .rsplit('/')
                .next()
                .unwrap_or(file)
                .split('.')
                .next()
                .unwrap_or(file);
            format!("{area}: add {topic} {i}\n\nPart of the {topic} work.\n")
        };
        let parents: Vec<Oid> = tip.into_iter().collect();
        let oid = builder.commit(
            Some("refs/heads/main"),
            &sig_of(author, t)?,
            &message,
            &parents,
        )?;
        tip = Some(oid);
        match i {
            50 => tag(&repo, "v0.1.0", oid, t)?,
            120 => tag(&repo, "v0.2.0", oid, t)?,
            199 => tag(&repo, "v1.0.0", oid, t)?,
            180 => {
                repo.reference("refs/heads/develop", oid, true, "seed")?;
            }
            _ => {}
        }

        for (k, plan) in plans.iter().enumerate() {
            if plan.branch_point == i {
                let mut b = CommitBuilder::new(&repo, Some(oid))?;
                let topic = TOPICS[k];
                let who = ["bob", "carol", "alice"][k % 3];
                let mut head = oid;
                for j in 0..(1 + k % 3) {
                    let file = format!("src/{topic}.rs");
                    let mut text =
                        String::from_utf8_lossy(b.read(&file).unwrap_or_default()).into_owned();
                    if j == 0 {
                        text = format!("//! The {topic}.\n\npub struct {}; \n", capitalise(topic));
                        // The one open pull request whose CI fails (see `ci`): a stub.
                        if topic == FAILING_TOPIC {
                            text.push_str(&format!(
                                "\nimpl {} {{\n    pub fn open(&self) -> bool {{\n        todo!()\n    }}\n}}\n",
                                capitalise(topic)
                            ));
                        }
                    } else {
                        text.push_str(&format!(
                            "impl {} {{ pub fn step_{j}(&self) {{}} }}\n",
                            capitalise(topic)
                        ));
                    }
                    b.write(&file, text);
                    if j == 2 {
                        b.write(
                            &format!("tests/{topic}_test.rs"),
                            format!("#[test]\nfn {topic}_works() {{}}\n"),
                        );
                    }
                    let when = t + 10 * 60 * (j as i64 + 1);
                    head = b.commit(
                        None,
                        &sig_of(who, when)?,
                        &format!("{topic}: step {}", j + 1),
                        &[head],
                    )?;
                }
                repo.reference(&format!("refs/heads/{}", plan.branch), head, true, "seed")?;
                branch_tips.insert(plan.number, head);
            }
            if let Outcome::Merged(method) = plan.outcome {
                // Merged six hours after the pull request was opened.
                let merge_at = issue_time(plan.number) + 6 * HOUR;
                if merge_at > t && merge_at < main_commit_time(i + 1) {
                    let head = branch_tips[&plan.number];
                    base_before_merge.insert(plan.number, oid);
                    let title = pull_title(k);
                    let msg = match method {
                        MergeMethod::Merge => format!(
                            "Merge pull request #{} from acme/{}\n\n{title}",
                            plan.number, plan.branch
                        ),
                        _ => format!("{title} (#{})", plan.number),
                    };
                    let new = git::merge(
                        &repo,
                        "main",
                        head,
                        method,
                        &msg,
                        &sig_of("alice", merge_at)?,
                    )?;
                    merge_commits.insert(plan.number, new);
                    tip = Some(new);
                    builder = CommitBuilder::new(&repo, Some(new))?;
                }
            }
        }
    }

    // Issues and pull requests, in number order with fixed times.
    let logins = ["alice", "bob", "carol", "ci-bot"];
    for number in 1..=50i64 {
        let created = issue_time(number);
        let n = number as usize;
        let author = &users[logins[n % 4]];
        let plan = plans.iter().position(|p| p.number == number);
        let mut new = NewIssue::default();
        let topic = TOPICS[n % TOPICS.len()];
        if let Some(k) = plan {
            let p = &plans[k];
            new.title = pull_title(k);
            new.body = format!("Adds the {} module.\n\nCloses #{}.", TOPICS[k], number - 1);
            new.pull = Some((p.branch.clone(), "main".into(), false));
            if k == 8 {
                new.pull = Some((p.branch.clone(), "main".into(), true));
            }
        } else {
            new.title = match n % 4 {
                0 => format!(
                    "{} breaks when {} is {}",
                    capitalise(topic),
                    TOPICS[(n + 3) % 10],
                    n
                ),
                1 => format!("Add a {topic} option to the widget builder"),
                2 => format!("Document how {topic}s interact with gears"),
                _ => format!("Question: can a {topic} drive a sprocket?"),
            };
            new.body = format!(
                "Issue {number} about the {topic}.\n\nSteps:\n1. build a widget\n2. attach a {topic}\n\nExpected: it spins.",
            );
            let mut labels = vec![LABELS[n % LABELS.len()].0.to_string()];
            if n.is_multiple_of(3) {
                labels.push(LABELS[(n + 2) % LABELS.len()].0.to_string());
            }
            new.labels = labels;
        }
        if n.is_multiple_of(2) {
            new.assignees.push(logins[(n / 2) % 3].to_string());
        }
        if n.is_multiple_of(6) {
            new.assignees.push(logins[(n + 1) % 3].to_string());
        }
        let issue = store.create_issue(&repo_row, author, &new, created)?;
        let mut last = created;
        for c in 0..(n % 4) {
            let who = &users[logins[(n + c + 1) % 4]];
            last = created + 30 * 60 * (c as i64 + 1);
            store.add_comment(
                &repo_row,
                number,
                who,
                &format!("Comment {} on #{number}: I looked at the {topic}.", c + 1),
                last,
            )?;
        }
        let closer = &users["alice"];
        // Each open pull request's head has had its CI run (a pull_request event).
        if let Some(p) = plan.map(|k| &plans[k])
            && p.outcome == Outcome::Open
        {
            crate::ci::start(
                store,
                &repo,
                &repo_row,
                &p.branch,
                branch_tips[&number],
                "pull_request",
                author.id,
                created + HOUR,
            )?;
        }
        match plan.map(|k| &plans[k]) {
            Some(p) => {
                let head = branch_tips[&number];
                let end = created + 6 * HOUR;
                if matches!(p.outcome, Outcome::Merged(_)) {
                    let reviewer = &users[["carol", "alice", "bob"][n % 3]];
                    store.add_review(
                        &issue,
                        reviewer,
                        "Looks good to me.",
                        "APPROVED",
                        &head.to_string(),
                        end - HOUR,
                    )?;
                    let base = base_before_merge[&number].to_string();
                    let merge = merge_commits[&number].to_string();
                    store.record_pull_end(
                        &issue,
                        closer,
                        &head.to_string(),
                        &base,
                        Some(&merge),
                        end,
                    )?;
                } else if p.outcome == Outcome::Closed {
                    let bp = branch_point_oid(&repo, head)?;
                    store.record_pull_end(&issue, closer, &head.to_string(), &bp, None, end)?;
                } else if number == 20 {
                    let reviewer = &users["carol"];
                    store.add_review(
                        &issue,
                        reviewer,
                        "Please add tests.",
                        "CHANGES_REQUESTED",
                        &head.to_string(),
                        end,
                    )?;
                }
            }
            None => {
                if n.is_multiple_of(3) || n % 10 == 7 {
                    let reason = if n % 10 == 7 {
                        "not_planned"
                    } else {
                        "completed"
                    };
                    let patch = store::IssuePatch {
                        state: Some("closed".into()),
                        state_reason: Some(reason.into()),
                        ..Default::default()
                    };
                    store.update_issue(&repo_row, number, closer, &patch, last + HOUR)?;
                }
            }
        }
    }
    // A release for each tag, as the maintainer published them.
    for (tag, i, notes) in [
        ("v0.1.0", 50, "First release: widgets, gears and sprockets."),
        (
            "v0.2.0",
            120,
            "Adds cranks and levers.\n\n- Breaking: `Gear::teeth` is now `u16`.",
        ),
        (
            "v1.0.0",
            199,
            "Stable API.\n\nSee the guide in docs/guide.md.",
        ),
    ] {
        let new = crate::releases::NewRelease {
            tag_name: tag.into(),
            target_commitish: "main".into(),
            name: format!("Widgets {tag}"),
            body: notes.into(),
            draft: false,
            prerelease: false,
        };
        crate::releases::create(
            store,
            &repo_row,
            &users["alice"],
            &new,
            main_commit_time(i) + HOUR,
        )?;
    }
    review_thread(store, &repo, &repo_row, &users)?;
    store.advance_to(EPOCH + 240 * HOUR)?;
    store.set_meta("seed", "demo")?;
    Ok(())
}

/// A review thread on open pull request #20: bob asks about a line, alice answers.
fn review_thread(
    store: &Store,
    repo: &Repository,
    repo_row: &crate::store::Repo,
    users: &BTreeMap<&str, User>,
) -> Result<()> {
    use crate::review_comments::{Anchor, create};
    let Some(pull) = store.issue(repo_row, 20)? else {
        return Ok(());
    };
    let head = repo
        .refname_to_id("refs/heads/feature/spring-4")?
        .to_string();
    // Two hours after the pull request was opened (day 4, 08:15).
    let at = EPOCH + 3 * 24 * HOUR + 10 * HOUR;
    let anchor = Anchor::Line {
        path: "src/spring.rs".into(),
        line: 3,
        side: "RIGHT".into(),
        commit_id: head,
    };
    let root = create(
        store,
        &pull,
        &users["bob"],
        "Should `Spring` derive `Debug`?",
        &anchor,
        at,
    )?;
    create(
        store,
        &pull,
        &users["alice"],
        "Yes, in a follow-up.",
        &Anchor::Reply(root),
        at + HOUR,
    )?;
    Ok(())
}

fn branch_point_oid(repo: &Repository, head: Oid) -> Result<String> {
    let main = repo.refname_to_id("refs/heads/main")?;
    Ok(repo.merge_base(main, head)?.to_string())
}

fn tag(repo: &Repository, name: &str, oid: Oid, t: Time) -> Result<()> {
    let obj = repo.find_object(oid, None)?;
    let sig = git::signature("Alice Liddell", "alice@acme.example", t)?;
    repo.tag(name, &obj, &sig, &format!("Release {name}"), false)?;
    Ok(())
}

fn pull_title(k: usize) -> String {
    format!("Add the {} module", TOPICS[k])
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}
