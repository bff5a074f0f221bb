//! Signals to child processes, sent with the kill(2) system call through rustix: the harness
//! spawns no `kill` program to stop what it started.

pub use rustix::process::Signal;

/// Sends `signal` to `pid`. `false` when it could not be delivered (the process is gone, or the
/// id does not fit a pid); callers wait for the process next, which settles either way.
pub fn send(pid: u32, signal: Signal) -> bool {
    i32::try_from(pid)
        .ok()
        .and_then(rustix::process::Pid::from_raw)
        .is_some_and(|pid| rustix::process::kill_process(pid, signal).is_ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    #[test]
    fn delivers_the_signal_to_a_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        assert!(send(child.id(), Signal::TERM));
        let status = child.wait().unwrap();
        assert_eq!(status.signal(), Some(Signal::TERM.as_raw()), "{status:?}");
        // No such pid: nothing delivered, no panic.
        assert!(!send(u32::MAX, Signal::TERM));
    }
}
