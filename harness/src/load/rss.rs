//! The server's memory as the kernel counts it: `VmRSS` (resident now) and `VmHWM` (the
//! resident high-water mark) from `/proc/PID/status`.

/// Resident memory of a process, in KiB.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Memory {
    pub rss_kib: u64,
    pub hwm_kib: u64,
}

/// Reads `/proc/PID/status`; `None` when the process is gone or the fields are missing
/// (not Linux).
pub fn read(pid: u32) -> Option<Memory> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse(&text)
}

/// The `VmRSS` and `VmHWM` lines of a status file.
pub fn parse(status: &str) -> Option<Memory> {
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
    };
    Some(Memory {
        rss_kib: field("VmRSS:")?,
        hwm_kib: field("VmHWM:")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: &str, expected: Option<(u64, u64)>) {
        let got = parse(status).map(|m| (m.rss_kib, m.hwm_kib));
        assert_eq!(got, expected, "{status}");
    }

    #[test]
    fn reads_the_two_fields() {
        check(
            "Name:\tgitgate\nVmPeak:\t  900 kB\nVmHWM:\t   20480 kB\nVmRSS:\t   18432 kB\n",
            Some((18432, 20480)),
        );
        check("Name:\tgitgate\nVmRSS:\t 1 kB\n", None);
        check("VmRSS:\tlots kB\nVmHWM:\t1 kB\n", None);
    }

    #[test]
    fn this_process_has_memory() {
        let m = read(std::process::id()).expect("running on Linux");
        assert!(m.rss_kib > 0 && m.hwm_kib >= m.rss_kib, "{m:?}");
    }
}
