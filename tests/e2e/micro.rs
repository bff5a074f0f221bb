//! The main job's engine on a small repository: gitgate-bench's micro benchmark spawns the real
//! gitgate binary (stdio and HTTP, with users made through `gitgate users`) and the real git.

use crate::binaries::binary;

fn config() -> gitgate_bench::micro::Config {
    gitgate_bench::micro::Config {
        gitgate: binary("gitgate"),
        commits: 30,
        iterations: 10,
        warmup: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn micro_benchmark_runs_both_arms_and_checks_they_agree() {
    let results = gitgate_bench::micro::run(&config(), |_| {}).await.unwrap();
    let names: Vec<&str> = results.iter().map(|r| r.name).collect();
    assert_eq!(names, ["log -5", "status", "diff"]);
    for r in &results {
        assert_eq!((r.mcp.n, r.cli.n), (10, 10), "{}", r.name);
        assert!(r.mcp.p50_us > 0.0 && r.cli.p50_us > 0.0, "{}", r.name);
    }
    let table = gitgate_bench::micro::table(&results);
    assert_eq!(table.lines().count(), 5, "{table}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_cost_runs_with_and_without_auth_and_audit() {
    let results = gitgate_bench::micro::auth_cost(&config(), |_| {})
        .await
        .unwrap();
    let transports: Vec<&str> = results.iter().map(|r| r.transport).collect();
    assert_eq!(transports, ["stdio", "http"]);
    assert!(results.iter().all(|r| r.with.n >= 10 && r.without.n >= 10));
}
