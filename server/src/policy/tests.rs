use super::*;

fn principal(scopes: &str, grants: &str) -> Principal {
    Principal {
        user: "alice".to_owned(),
        scopes: parse_scopes(scopes).expect("test scopes"),
        grants: grants.parse().expect("test grants"),
        rate_limit_per_minute: None,
    }
}

/// `check(grants, repo, expected matching pattern)`.
fn check_grant(grants: &str, repo: &str, expected: Option<&str>) {
    let grants: Grants = grants.parse().expect("test grants");
    assert_eq!(
        grants.matching(repo),
        expected,
        "grants {grants:?} on {repo:?}"
    );
}

/// `check(scopes, grants, class, repo, expected rule)` against a writable policy, no limit.
fn check(scopes: &str, grants: &str, class: ToolClass, repo: Option<&str>, rule: &str) {
    let decision = Policy::new(false, None).decide(&principal(scopes, grants), class, repo.into());
    assert_eq!(decision.rule, rule);
    assert_eq!(decision.allowed, !rule.starts_with("denied:"));
}

#[test]
fn scopes_round_trip_and_parse_lists() {
    for scope in Scope::ALL {
        assert_eq!(scope.to_string().parse::<Scope>().ok(), Some(scope));
    }
    let parsed = parse_scopes("git:read, github:read github:merge,,").expect("valid list");
    assert_eq!(
        parsed,
        BTreeSet::from([Scope::GitRead, Scope::GithubRead, Scope::GithubMerge])
    );
    assert_eq!(parse_scopes("  ").ok(), Some(BTreeSet::new()));
}

#[test]
fn unknown_scope_error_names_valid_scopes() {
    let err = parse_scopes("git:read git:admin").expect_err("unknown scope");
    assert_eq!(
        err.to_string(),
        "unknown scope \"git:admin\"; valid scopes: git:read, git:write, git:push, git:force, github:read, \
         github:write, github:merge, admin"
    );
    // Case matters: scopes are identifiers, not prose.
    assert!("Admin".parse::<Scope>().is_err());
}

#[test]
fn known_scopes_drops_foreign_ones() {
    assert_eq!(
        known_scopes(["openid", "git:read", "profile", "admin"]),
        BTreeSet::from([Scope::GitRead, Scope::Admin])
    );
}

#[test]
fn required_scopes() {
    let cases = [
        (ToolClass::GIT_READ, Some(Scope::GitRead)),
        (ToolClass::GIT_WRITE, Some(Scope::GitWrite)),
        (
            ToolClass::new(Domain::Git, Effect::Merge),
            Some(Scope::GitWrite),
        ),
        (ToolClass::GITHUB_READ, Some(Scope::GithubRead)),
        (ToolClass::GITHUB_WRITE, Some(Scope::GithubWrite)),
        (ToolClass::GITHUB_MERGE, Some(Scope::GithubMerge)),
        (ToolClass::META_READ, None),
    ];
    for (class, scope) in cases {
        assert_eq!(required_scope(class), scope, "{class:?}");
    }
}

#[test]
fn grant_glob_semantics() {
    check_grant("acme/*", "acme/widgets", Some("acme/*"));
    check_grant("acme/*", "acme/x/y", None);
    check_grant("acme/*", "acme", None);
    check_grant("acme/*", "acmeco/widgets", None);
    check_grant("*", "app", Some("*"));
    check_grant("*", "acme/widgets", None);
    check_grant("**", "app", Some("**"));
    check_grant("**", "acme/widgets", Some("**"));
    check_grant("**", "acme/x/y", Some("**"));
    check_grant("acme/**", "acme/x/y", Some("acme/**"));
    check_grant("acme/**", "other/x", None);
    check_grant("*/widgets", "acme/widgets", Some("*/widgets"));
    // Whole-name match, not prefix or substring.
    check_grant("acme/widgets", "acme/widgets", Some("acme/widgets"));
    check_grant("acme/widgets", "acme/widgets-private", None);
    check_grant("app", "myapp", None);
    // Alternates keep their commas; list commas split.
    check_grant("acme/{api,web}, app", "acme/web", Some("acme/{api,web}"));
    check_grant("acme/{api,web}, app", "app", Some("app"));
    check_grant("acme/{api,web}, app", "acme/db", None);
    // The earliest matching pattern is reported.
    check_grant(
        "acme/widgets acme/* **",
        "acme/widgets",
        Some("acme/widgets"),
    );
    // Case-sensitive (fail closed).
    check_grant("acme/widgets", "Acme/Widgets", None);
    check_grant("", "app", None);
}

#[test]
fn malformed_repo_names_are_never_granted() {
    for name in [
        "", "..", "../etc", "acme/..", "acme//x", "/app", "app/", "a b", "a\\b", "ap\np",
    ] {
        check_grant("**", name, None);
    }
    assert!(!is_valid_repo_name(&"a".repeat(257)));
    assert!(is_valid_repo_name("acme/widgets.rs_2-x"));
}

#[test]
fn invalid_grant_patterns_are_refused() {
    for pattern in ["acme/[", "/acme", "acme/", "acme/{a,b"] {
        let err = Grants::new([pattern]).expect_err(pattern);
        assert!(
            err.to_string().contains("invalid repository grant"),
            "{err}"
        );
    }
}

#[test]
fn decisions_and_rules() {
    const GR: ToolClass = ToolClass::GIT_READ;
    const GW: ToolClass = ToolClass::GIT_WRITE;
    const HR: ToolClass = ToolClass::GITHUB_READ;
    const HM: ToolClass = ToolClass::GITHUB_MERGE;
    const META: ToolClass = ToolClass::META_READ;
    // A table reads better than rustfmt's one-argument-per-line layout.
    #[rustfmt::skip]
    let cases = [
        ("git:read", "app", GR, Some("app"), "scope:git:read;grant:app"),
        ("git:read", "app", GR, None, "scope:git:read"),
        ("git:read", "app", GW, Some("app"), "denied:missing-scope:git:write"),
        ("admin", "acme/*", HM, Some("acme/x"), "scope:admin;grant:acme/*"),
        // Admin implies scopes, not grants.
        ("admin", "acme/*", HR, Some("acme/secret/x"), "denied:no-grant:acme/secret/x"),
        ("github:write", "acme/*", HM, Some("acme/x"), "denied:missing-scope:github:merge"),
        ("github:read", "acme/*", HR, Some("other/x"), "denied:no-grant:other/x"),
        ("github:read", "**", HR, Some("../x"), "denied:invalid-repo"),
        // Scope is checked before the grant: the agent learns the first thing to fix.
        ("", "", GR, Some("app"), "denied:missing-scope:git:read"),
        ("", "", META, None, "meta"),
        ("", "app", META, Some("app"), "meta;grant:app"),
    ];
    for (scopes, grants, class, repo, rule) in cases {
        check(scopes, grants, class, repo, rule);
    }
}

#[test]
fn read_only_denies_writes_whatever_the_scopes() {
    let policy = Policy::new(true, None);
    let admin = principal("admin", "**");
    for class in [
        ToolClass::GIT_WRITE,
        ToolClass::GITHUB_WRITE,
        ToolClass::GITHUB_MERGE,
        ToolClass::new(Domain::Meta, Effect::Write),
    ] {
        let decision = policy.decide(&admin, class, Target::Repo("app"));
        assert_eq!(
            (decision.allowed, decision.rule.as_str()),
            (false, "denied:read-only")
        );
        assert!(!policy.visible(&admin, class), "{class:?}");
    }
    assert!(
        policy
            .decide(&admin, ToolClass::GIT_READ, Target::Repo("app"))
            .allowed
    );
    assert!(policy.visible(&admin, ToolClass::GIT_READ));
}

#[test]
fn visibility_follows_scopes() {
    let policy = Policy::new(false, None);
    let reader = principal("git:read github:read", "");
    assert!(policy.visible(&reader, ToolClass::GIT_READ));
    assert!(policy.visible(&reader, ToolClass::GITHUB_READ));
    assert!(policy.visible(&reader, ToolClass::META_READ));
    assert!(!policy.visible(&reader, ToolClass::GIT_WRITE));
    assert!(!policy.visible(&reader, ToolClass::GITHUB_MERGE));
    let admin = principal("admin", "");
    assert!(policy.visible(&admin, ToolClass::GITHUB_MERGE));
}

/// Regression (issue "One place for each decision"): the every-repository rule lives in
/// policy, before the rate limit, so a refusal never consumes the user's budget.
#[test]
fn every_repository_needs_a_star_star_grant_and_refusals_cost_nothing() {
    let policy = Policy::new(false, Some(1));
    let t0 = Instant::now();
    let narrow = principal("github:read", "acme/*");
    for _ in 0..3 {
        let d = policy.decide_at(&narrow, ToolClass::GITHUB_READ, Target::AllRepos, t0);
        assert_eq!(d.rule, "denied:repo-required");
        let d = policy.decide_at(&narrow, ToolClass::GITHUB_READ, Target::Unreadable, t0);
        assert_eq!(d.rule, "denied:invalid-repo");
    }
    let d = policy.decide_at(&narrow, ToolClass::GITHUB_READ, Target::Repo("acme/x"), t0);
    assert_eq!(d.rule, "scope:github:read;grant:acme/*");
    let d = policy.decide_at(&narrow, ToolClass::GITHUB_READ, Target::Repo("acme/x"), t0);
    assert_eq!(d.rule, "denied:rate-limit");
    let wide = Principal {
        user: "bob".into(),
        ..principal("github:read", "**")
    };
    let d = policy.decide_at(&wide, ToolClass::GITHUB_READ, Target::AllRepos, t0);
    assert_eq!(d.rule, "scope:github:read;grant:**");
}

#[test]
fn messages() {
    let policy = Policy::new(false, None);
    let alice = principal("git:read", "app");
    let msg = |class, repo: Option<&str>| {
        policy
            .decide(&alice, class, repo.into())
            .message("alice", "git_commit")
    };
    assert_eq!(
        msg(ToolClass::GIT_WRITE, Some("app")),
        "alice lacks scope git:write for git_commit; ask an admin to grant it"
    );
    assert_eq!(
        msg(ToolClass::GIT_READ, Some("acme/secret")),
        "alice has no grant for repository acme/secret (git_commit); ask an admin to grant it"
    );
    let read_only = Policy::new(true, None).decide(&alice, ToolClass::GIT_WRITE, Target::Nothing);
    assert_eq!(
        read_only.message("alice", "git_commit"),
        "git_commit changes state and this gitgate server is read-only; use read tools only"
    );
    // Garbage in the repository name is not echoed back.
    let bad = policy.decide(&alice, ToolClass::GIT_READ, Target::Repo("../\u{1b}[31m"));
    assert!(!bad.message("alice", "git_log").contains('\u{1b}'));
}

#[test]
fn rate_limiter_token_bucket() {
    let limiter = RateLimiter::new();
    let t0 = Instant::now();
    // A burst up to the limit, then a wait of one refill interval (60s / 3 = 20s).
    for _ in 0..3 {
        assert_eq!(limiter.check("alice", 3, t0), Ok(()));
    }
    let Err(RetryAfter(wait)) = limiter.check("alice", 3, t0) else {
        panic!("fourth call in the same instant must be limited");
    };
    assert_eq!(ceil_secs(wait), 20);
    // Users are independent.
    assert_eq!(limiter.check("bob", 3, t0), Ok(()));
    // Refill: after 20s exactly one more call.
    let t20 = t0 + Duration::from_secs(20);
    assert_eq!(limiter.check("alice", 3, t20), Ok(()));
    assert!(limiter.check("alice", 3, t20).is_err());
    // Long idle refills to capacity, not beyond.
    let later = t0 + Duration::from_secs(3600);
    for _ in 0..3 {
        assert_eq!(limiter.check("alice", 3, later), Ok(()));
    }
    assert!(limiter.check("alice", 3, later).is_err());
    // A clock going backwards neither panics nor refills.
    assert!(limiter.check("alice", 3, t0).is_err());
    // Zero means no calls.
    assert!(limiter.check("carol", 0, t0).is_err());
}

#[test]
fn policy_applies_user_then_default_rate_limit() {
    let policy = Policy::new(false, Some(2));
    let t0 = Instant::now();
    let mut alice = principal("git:read", "app");
    let decide = |p: &Principal| policy.decide_at(p, ToolClass::GIT_READ, Target::Repo("app"), t0);
    assert!(decide(&alice).allowed);
    assert!(decide(&alice).allowed);
    let limited = decide(&alice);
    assert_eq!(limited.rule, "denied:rate-limit");
    assert_eq!(limited.retry_after().map(ceil_secs), Some(30));
    assert_eq!(
        limited.message("alice", "git_log"),
        "alice is over the rate limit of 2 calls per minute; retry git_log in 30s"
    );
    // A user's own limit overrides the default.
    alice.user = "alice2".to_owned();
    alice.rate_limit_per_minute = Some(5);
    for _ in 0..5 {
        assert!(decide(&alice).allowed);
    }
    assert!(!decide(&alice).allowed);
    // Denied calls do not consume budget.
    let t1 = t0 + Duration::from_secs(30);
    let mut bob = principal("", "app");
    bob.user = "bob".to_owned();
    for _ in 0..10 {
        assert!(
            !policy
                .decide_at(&bob, ToolClass::GIT_READ, Target::Repo("app"), t1)
                .allowed
        );
    }
    bob.scopes.insert(Scope::GitRead);
    assert!(
        policy
            .decide_at(&bob, ToolClass::GIT_READ, Target::Repo("app"), t1)
            .allowed
    );
    assert!(
        policy
            .decide_at(&bob, ToolClass::GIT_READ, Target::Repo("app"), t1)
            .allowed
    );
}
