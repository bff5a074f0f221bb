//! gitgate-bench's scenarios end to end: the real gitgate and gitgate-forge binaries, the real
//! gh and bash. Multi-user auth and enterprise governance on the CLI arm (a shared agent box)
//! and on gitgate, with the measured figures checked against what each arm can do.

use std::collections::BTreeMap;

use crate::binaries::binary;
use gitgate_bench::model::ScenarioResult;
use gitgate_bench::scenarios::{ScenarioConfig, run_all};

/// The CLI arm needs gh; under CI its absence is a failure (scripts/test.sh installs it).
fn have_gh() -> bool {
    let present = std::process::Command::new("gh")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        present || std::env::var_os("CI").is_none(),
        "gh is not installed; run scripts/test.sh (it installs the Debian package gh)"
    );
    present
}

fn find<'a>(results: &'a [ScenarioResult], scenario: &str, arm: &str) -> &'a ScenarioResult {
    results
        .iter()
        .find(|r| r.scenario == scenario && r.arm == arm)
        .unwrap_or_else(|| panic!("no {scenario} result for {arm}: {results:#?}"))
}

fn check_figures(r: &ScenarioResult, expected: &[(&str, f64)]) {
    let got: BTreeMap<&str, f64> = expected
        .iter()
        .map(|(k, _)| (*k, *r.figures.get(*k).unwrap_or(&f64::NAN)))
        .collect();
    let want: BTreeMap<&str, f64> = expected.iter().copied().collect();
    assert_eq!(got, want, "{} on {}: {:#?}", r.scenario, r.arm, r.notes);
}

fn check_findings(r: &ScenarioResult, expected: &[(&str, bool)]) {
    for (k, v) in expected {
        assert_eq!(
            r.findings.get(*k),
            Some(v),
            "{k} for {} on {}: {:#?}",
            r.scenario,
            r.arm,
            r.notes
        );
    }
}

#[test]
fn scenarios_measure_attribution_revocation_records_tampering_and_merge() {
    if !have_gh() {
        eprintln!("skipping: gh is not installed");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let config = ScenarioConfig {
        gitgate: binary("gitgate"),
        forge: binary("gitgate-forge"),
        work_dir: work.path().to_owned(),
        arms: vec!["cli".into(), "mcp".into(), "peer:mcp-server-git".into()],
    };
    let mut lines = Vec::new();
    let results = run_all(&config, |l| lines.push(l.to_owned())).unwrap();
    assert!(!lines.is_empty(), "progress was reported");
    // Two scenarios on each arm that has them; the peer has no users or audit log.
    assert_eq!(results.len(), 4, "{results:#?}");
    assert!(results.iter().all(|r| r.arm != "peer:mcp-server-git"));

    // Multi-user auth: the shared token makes every write ci-bot's, and cutting carol off cuts
    // everyone off; gitgate attributes every write and cuts off carol alone.
    let cli = find(&results, "multi-user-auth", "cli");
    check_figures(
        cli,
        &[
            ("writes", 6.0),
            ("attribution_share", 0.0),
            ("users_with_access_before", 3.0),
            ("users_cut_off_by_one_revocation", 3.0),
        ],
    );
    check_findings(cli, &[("only_revoked_user_cut_off", false)]);
    let mcp = find(&results, "multi-user-auth", "mcp");
    check_figures(
        mcp,
        &[
            ("writes", 6.0),
            ("attribution_share", 1.0),
            ("users_with_access_before", 3.0),
            ("users_cut_off_by_one_revocation", 1.0),
        ],
    );
    check_findings(mcp, &[("only_revoked_user_cut_off", true)]);

    // Governance: the history tells what, when and target but never who or outcome; the audit
    // log tells all five; only gitgate detects the edit and blocks the read-only merge.
    let cli = find(&results, "governance", "cli");
    check_figures(
        cli,
        &[
            ("actions", 6.0),
            ("complete_record_share", 0.0),
            ("who_share", 0.0),
            ("what_share", 1.0),
            ("when_share", 1.0),
            ("target_share", 1.0),
            ("outcome_share", 0.0),
        ],
    );
    check_findings(
        cli,
        &[
            ("tampering_detected", false),
            ("forbidden_merge_blocked", false),
        ],
    );
    let mcp = find(&results, "governance", "mcp");
    check_figures(
        mcp,
        &[
            ("actions", 6.0),
            ("complete_record_share", 1.0),
            ("who_share", 1.0),
            ("what_share", 1.0),
            ("when_share", 1.0),
            ("target_share", 1.0),
            ("outcome_share", 1.0),
        ],
    );
    check_findings(
        mcp,
        &[
            ("tampering_detected", true),
            ("forbidden_merge_blocked", true),
        ],
    );
}
