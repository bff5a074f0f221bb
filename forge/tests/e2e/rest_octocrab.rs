//! REST answers deserialize into octocrab 0.54's models, and octocrab writes show up in reads.

use octocrab::Octocrab;
use octocrab::params::State;

use crate::start;

fn client(f: &crate::Forge, login: &str) -> Octocrab {
    Octocrab::builder()
        .base_uri(f.handle.base_url.as_str())
        .expect("base uri")
        .personal_token(f.token(login))
        .build()
        .expect("octocrab")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_repos_branches_commits_contents() {
    let f = start().await;
    let oc = client(&f, "alice");
    let me = oc.current().user().await.expect("current user");
    assert_eq!(me.login, "alice");
    let bob = oc.users("bob").profile().await.expect("profile");
    assert_eq!(bob.login, "bob");

    let repo = oc.repos("acme", "widgets").get().await.expect("repo");
    assert_eq!(repo.full_name.as_deref(), Some("acme/widgets"));
    assert_eq!(repo.default_branch.as_deref(), Some("main"));

    let branches = oc
        .repos("acme", "widgets")
        .list_branches()
        .send()
        .await
        .expect("branches");
    let names: Vec<&str> = branches.items.iter().map(|b| b.name.as_str()).collect();
    assert!(
        names.contains(&"main") && names.contains(&"develop"),
        "{names:?}"
    );

    let commits = oc
        .repos("acme", "widgets")
        .list_commits()
        .per_page(5)
        .send()
        .await
        .expect("commits");
    assert_eq!(commits.items.len(), 5);
    assert!(commits.next.is_some(), "Link next");
    let by_bob = oc
        .repos("acme", "widgets")
        .list_commits()
        .author("bob")
        .per_page(100)
        .send()
        .await
        .expect("by bob");
    assert!(!by_bob.items.is_empty());
    assert!(
        by_bob
            .items
            .iter()
            .all(|c| c.author.as_ref().is_some_and(|a| a.login == "bob"))
    );
    let readme_commits = oc
        .repos("acme", "widgets")
        .list_commits()
        .path("README.md")
        .per_page(100)
        .send()
        .await
        .expect("path");
    assert!(!readme_commits.items.is_empty() && readme_commits.items.len() < 100);

    let one = oc
        .commits("acme", "widgets")
        .get(commits.items[0].sha.clone())
        .await
        .expect("one commit");
    assert_eq!(one.sha, commits.items[0].sha);
    assert!(one.files.is_some_and(|f| !f.is_empty()));

    let content = oc
        .repos("acme", "widgets")
        .get_content()
        .path("README.md")
        .r#ref("v0.1.0")
        .send()
        .await
        .expect("content");
    let text = content.items[0].decoded_content().expect("decodes");
    assert!(text.starts_with("# widgets"), "{text}");
    let dir = oc
        .repos("acme", "widgets")
        .get_content()
        .path("src")
        .send()
        .await
        .expect("dir");
    assert!(dir.items.iter().any(|i| i.name == "lib.rs"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issues_comments_labels_round_trip() {
    let f = start().await;
    let oc = client(&f, "bob");
    let issues = oc.issues("acme", "widgets");
    let all = issues
        .list()
        .state(State::All)
        .per_page(100)
        .send()
        .await
        .expect("list");
    assert_eq!(all.items.len(), 50, "40 issues and 10 pull requests");
    assert_eq!(
        all.items
            .iter()
            .filter(|i| i.pull_request.is_some())
            .count(),
        10
    );
    let bugs = issues
        .list()
        .labels(&["bug".to_string()])
        .state(State::All)
        .send()
        .await
        .expect("labels");
    assert!(
        bugs.items
            .iter()
            .all(|i| i.labels.iter().any(|l| l.name == "bug"))
    );

    let created = issues
        .create("Gear slips under load")
        .body("It slips.")
        .labels(vec!["bug".to_string()])
        .assignees(vec!["carol".to_string()])
        .send()
        .await
        .expect("create");
    assert_eq!(created.number, 51);
    assert_eq!(created.user.login, "bob");
    let comment = issues
        .create_comment(51, "Reproduced.")
        .await
        .expect("comment");
    assert_eq!(comment.user.login, "bob");
    let comments = issues.list_comments(51).send().await.expect("comments");
    assert_eq!(comments.items.len(), 1);
    let closed = issues
        .update(51)
        .state(octocrab::models::IssueState::Closed)
        .send()
        .await
        .expect("close");
    assert_eq!(closed.state, octocrab::models::IssueState::Closed);
    let fetched = issues.get(51).await.expect("get");
    assert_eq!(fetched.comments, 1);
    assert!(fetched.closed_at.is_some());
    let labels = issues.list_labels_for_repo().send().await.expect("labels");
    assert!(labels.items.iter().any(|l| l.name == "good first issue"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pulls_list_get_files_diff_merge_reviews() {
    let f = start().await;
    let oc = client(&f, "carol");
    let pulls = oc.pulls("acme", "widgets");
    let all = pulls
        .list()
        .state(State::All)
        .per_page(100)
        .send()
        .await
        .expect("list");
    assert_eq!(all.items.len(), 10);
    let merged: Vec<u64> = all
        .items
        .iter()
        .filter(|p| p.merged_at.is_some())
        .map(|p| p.number)
        .collect();
    assert_eq!(merged.len(), 4, "{merged:?}");
    let open = pulls.list().send().await.expect("open");
    assert_eq!(open.items.len(), 4);

    let p = pulls.get(20).await.expect("get");
    assert_eq!(p.head.ref_field, "feature/spring-4");
    let files = pulls.list_files(20).await.expect("files");
    assert!(files.items.iter().any(|f| f.filename == "src/spring.rs"));
    let diff = pulls.get_diff(20).await.expect("diff");
    assert!(
        diff.starts_with("diff --git a/src/spring.rs b/src/spring.rs"),
        "{diff}"
    );
    let reviews = pulls.list_reviews(20).send().await.expect("reviews");
    assert_eq!(reviews.items.len(), 1);

    let result = pulls
        .merge(20)
        .method(octocrab::params::pulls::MergeMethod::Squash)
        .send()
        .await
        .expect("merge");
    assert!(result.merged);
    let after = pulls.get(20).await.expect("get");
    assert!(after.merged_at.is_some());
    assert_eq!(after.merge_commit_sha, result.sha);
    let main = oc
        .repos("acme", "widgets")
        .list_commits()
        .per_page(1)
        .send()
        .await
        .expect("commits");
    assert_eq!(
        Some(main.items[0].sha.clone()),
        result.sha,
        "the squash commit is main's tip"
    );
    assert_eq!(
        main.items[0]
            .commit
            .author
            .as_ref()
            .map(|a| a.name.as_str()),
        Some("Carol Danvers")
    );

    let created = pulls
        .create("Second spring", "feature/lever-3", "main")
        .body("again")
        .send()
        .await;
    assert!(created.is_ok(), "{created:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_rate_limit() {
    let f = start().await;
    let oc = client(&f, "alice");
    let found = oc
        .search()
        .issues_and_pull_requests("repo:acme/widgets is:pr is:merged")
        .send()
        .await
        .expect("search");
    assert_eq!(found.total_count, Some(4));
    let code = oc
        .search()
        .code("repo:acme/widgets path:src Sprocket")
        .send()
        .await
        .expect("code");
    assert!(code.items.iter().any(|c| c.path == "src/sprocket.rs"));
    let rate = oc.ratelimit().get().await.expect("rate");
    assert_eq!(rate.resources.core.limit, 5000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refs_compare_and_file_writes() {
    use octocrab::params::repos::Reference;
    let f = start().await;
    let oc = client(&f, "bob");
    let repos = oc.repos("acme", "widgets");
    let main = repos
        .get_ref(&Reference::Branch("main".into()))
        .await
        .expect("ref");
    let octocrab::models::repos::Object::Commit { sha, .. } = main.object else {
        panic!("main points at a commit")
    };
    repos
        .create_ref(&Reference::Branch("docs/typo".into()), sha.clone())
        .await
        .expect("create ref");

    let created = repos
        .create_file("docs/typo.md", "docs: add typo page", "Teh widget.\n")
        .branch("docs/typo")
        .send()
        .await
        .expect("create file");
    let blob = created.content.sha.clone();
    let fixed = repos
        .update_file("docs/typo.md", "docs: fix typo", "The widget.\n", blob)
        .branch("docs/typo")
        .send()
        .await
        .expect("update file");
    assert_eq!(
        fixed.commit.author.as_ref().map(|a| a.name.as_str()),
        Some("Bob Builder")
    );

    let cmp = oc
        .commits("acme", "widgets")
        .compare("main", "docs/typo")
        .send()
        .await
        .expect("compare");
    assert_eq!(cmp.ahead_by, 2);
    assert_eq!(cmp.behind_by, 0);
    assert!(
        cmp.files
            .is_some_and(|f| f.iter().any(|f| f.filename == "docs/typo.md"))
    );

    repos
        .delete_file("docs/typo.md", "docs: drop typo page", fixed.content.sha)
        .branch("docs/typo")
        .send()
        .await
        .expect("delete file");
    let listing = repos
        .get_content()
        .path("docs")
        .r#ref("docs/typo")
        .send()
        .await
        .expect("docs");
    assert!(listing.items.iter().all(|i| i.name != "typo.md"));

    let mine = oc
        .current()
        .list_repos_for_authenticated_user()
        .send()
        .await
        .expect("repos");
    assert_eq!(mine.items[0].full_name.as_deref(), Some("acme/widgets"));
    let org = oc
        .orgs("acme")
        .list_repos()
        .send()
        .await
        .expect("org repos");
    assert_eq!(org.items.len(), 1);
}
