//! What a run states about itself: versions of every program involved and the machine.

use std::collections::BTreeMap;
use std::process::Command;

use crate::arm::{Arm, Vars};
use crate::config::Config;

fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    let text = if out.stdout.is_empty() {
        out.stderr
    } else {
        out.stdout
    };
    String::from_utf8_lossy(&text)
        .lines()
        .next()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
}

/// Versions: gitgate, the forge, git, gh, jq, bash, strace, python3, and each arm's own line.
pub fn versions(config: &Config, arms: &[&Arm]) -> BTreeMap<String, String> {
    let gitgate = config.gitgate.display().to_string();
    let forge = config.forge.display().to_string();
    let mut v = BTreeMap::new();
    v.insert("gitgate-bench".into(), env!("CARGO_PKG_VERSION").into());
    for (name, program, args) in [
        ("gitgate", gitgate.as_str(), &["--version"][..]),
        ("gitgate-forge", forge.as_str(), &["--version"][..]),
        ("git", "git", &["--version"][..]),
        ("gh", "gh", &["--version"][..]),
        ("jq", "jq", &["--version"][..]),
        ("bash", "bash", &["--version"][..]),
        ("strace", "strace", &["-V"][..]),
        ("python3", "python3", &["--version"][..]),
    ] {
        if let Some(line) = first_line(program, args) {
            v.insert(name.to_owned(), line);
        }
    }
    let vars = Vars {
        gitgate,
        ..Default::default()
    };
    for arm in arms {
        if let Some(line) = arm.version(&vars) {
            v.insert(format!("arm:{}", arm.name), line);
        }
    }
    v
}

/// CPU model, cores, memory and OS, from /proc and /etc/os-release.
pub fn machine() -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let field = |text: &str, key: &str| {
        text.lines().find(|l| l.starts_with(key)).and_then(|l| {
            l.split_once([':', '='])
                .map(|(_, v)| v.trim().trim_matches('"').to_owned())
        })
    };
    if let Some(cpu) = field(&read("/proc/cpuinfo"), "model name") {
        m.insert("cpu".into(), cpu);
    }
    if let Ok(n) = std::thread::available_parallelism() {
        m.insert("cores".into(), n.to_string());
    }
    if let Some(mem) = field(&read("/proc/meminfo"), "MemTotal") {
        m.insert("memory".into(), mem);
    }
    if let Some(os) = field(&read("/etc/os-release"), "PRETTY_NAME") {
        m.insert("os".into(), os);
    }
    if let Some(kernel) = first_line("uname", &["-sr"]) {
        m.insert("kernel".into(), kernel);
    }
    m.insert("arch".into(), std::env::consts::ARCH.into());
    m
}
