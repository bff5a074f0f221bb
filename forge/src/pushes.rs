//! Who pushed what: the commands of a `git-receive-pack` request (`OLD NEW REF` pkt-lines before
//! the pack), kept for those the repository shows as applied after the backend ran, and served
//! as GitHub's `PushEvent`s (`GET /repos/{o}/{r}/events`), so a push is attributed to the token
//! that made it as an API call is.

use git2::Oid;

/// One reference update a push asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub old: String,
    pub new: String,
    pub refname: String,
}

/// The update commands at the start of a receive-pack request body: pkt-lines up to the first
/// flush packet; the first carries capabilities after a NUL. Malformed input ends the list.
pub fn commands(body: &[u8]) -> Vec<Command> {
    let mut out = Vec::new();
    let mut at = 0;
    while let Some(head) = body.get(at..at + 4) {
        let Some(len) = std::str::from_utf8(head)
            .ok()
            .and_then(|h| usize::from_str_radix(h, 16).ok())
        else {
            break;
        };
        if len < 4 {
            break; // flush (0000) or delimiter: the commands are over
        }
        let Some(line) = body.get(at + 4..at + len) else {
            break;
        };
        at += len;
        let line = line.split(|&b| b == 0).next().unwrap_or_default();
        let text = String::from_utf8_lossy(line);
        let mut parts = text.trim_end().splitn(3, ' ');
        if let (Some(old), Some(new), Some(refname)) = (parts.next(), parts.next(), parts.next())
            && old.len() == 40
            && new.len() == 40
        {
            out.push(Command {
                old: old.to_owned(),
                new: new.to_owned(),
                refname: refname.to_owned(),
            });
        }
    }
    out
}

/// Whether `cmd` is what the repository shows now (the backend applied it).
pub fn applied(repo: &git2::Repository, cmd: &Command) -> bool {
    let now = repo.refname_to_id(&cmd.refname).ok();
    match Oid::from_str(&cmd.new) {
        Ok(new) if new.is_zero() => now.is_none(),
        Ok(new) => now == Some(new),
        Err(_) => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pkt(s: &str) -> String {
        format!("{:04x}{s}", s.len() + 4)
    }

    #[test]
    fn reads_the_commands_before_the_flush() {
        let (a, b) = ("a".repeat(40), "b".repeat(40));
        let body = format!(
            "{}{}0000PACK....",
            pkt(&format!(
                "{a} {b} refs/heads/main\0report-status side-band-64k\n"
            )),
            pkt(&format!("{b} {} refs/heads/old\n", "0".repeat(40)))
        );
        let got = commands(body.as_bytes());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].refname, "refs/heads/main");
        assert_eq!(
            (got[0].old.as_str(), got[0].new.as_str()),
            (a.as_str(), b.as_str())
        );
        assert_eq!(got[1].new, "0".repeat(40));
        // Garbage, a short length, a truncated line: no panic, nothing read.
        for bad in ["", "zzzz", "0003", "00ffabc", "\u{0}\u{0}\u{0}\u{0}"] {
            assert!(commands(bad.as_bytes()).is_empty(), "{bad:?}");
        }
    }
}
