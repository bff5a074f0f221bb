//! Counting processes for real: a command runs under `strace -f` tracing only process-creating
//! syscalls, and every `clone`/`clone3`/`fork`/`vfork` that does not make a thread is one new
//! process. The traced run is a separate, untimed attempt (tracing slows what it traces).

use std::path::Path;
use std::process::Command;

/// Whether strace works here (installed and allowed to trace).
pub fn available() -> bool {
    Command::new("strace")
        .args([
            "-f",
            "--seccomp-bpf",
            "-qq",
            "-e",
            "trace=clone",
            "-o",
            "/dev/null",
            "true",
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The strace prefix writing to `out`.
pub fn prefix(out: &Path) -> Vec<String> {
    vec![
        "strace".into(),
        "-f".into(),
        // Stop only at the traced syscalls, not at every one (much less overhead).
        "--seccomp-bpf".into(),
        "-qq".into(),
        "-e".into(),
        "trace=clone,clone3,fork,vfork".into(),
        "-e".into(),
        "signal=none".into(),
        "-o".into(),
        out.display().to_string(),
        "--".into(),
    ]
}

/// Processes in a trace: the traced root plus every process (not thread) it or its
/// descendants created.
pub fn count_processes(trace: &str) -> u32 {
    let created = trace
        .lines()
        .filter(|line| {
            let call = line
                .split_once(' ')
                .map_or("", |(_pid, rest)| rest.trim_start());
            let creates = ["clone(", "clone3(", "fork(", "vfork("]
                .iter()
                .any(|c| call.starts_with(c));
            creates && !call.contains("CLONE_THREAD") && !call.contains("= -1")
        })
        .count();
    1 + created as u32
}

/// Reads and counts a trace file.
pub fn count_file(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path)
        .ok()
        .map(|t| count_processes(&t))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_processes_not_threads() {
        let trace = "\
11412 clone(child_stack=NULL, flags=CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID|SIGCHLD, child_tidptr=0x7f) = 11413
11413 clone(child_stack=NULL, flags=CLONE_VM|CLONE_VFORK|SIGCHLD <unfinished ...>
11413 <... clone resumed>)              = 11435
11413 clone(child_stack=0x7f, flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM) = 11420
11420 clone3({flags=CLONE_VM|CLONE_FS|CLONE_FILES|CLONE_SIGHAND|CLONE_THREAD|CLONE_SYSVSEM, exit_signal=0}, 88) = 11421
11421 clone3({flags=CLONE_VM|CLONE_VFORK, exit_signal=SIGCHLD, stack=0x7f}, 88) = 11500
11422 vfork()                                 = 11501
11423 fork()                                  = -1 EAGAIN (Resource temporarily unavailable)
";
        // bash + clone + vfork-style clone + clone3 (process) + vfork = 5.
        assert_eq!(count_processes(trace), 5);
        assert_eq!(count_processes(""), 1);
    }
}
