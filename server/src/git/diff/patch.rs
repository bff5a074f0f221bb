//! A file's patch, as git writes it: `diff --git`, extended headers, `index`, then the hunks.

use super::window::Sink;
use crate::git::fmt::short_id;
use crate::git::{Error, display_path};

/// `prefix` + `path`, quoted as a whole when needed, as git writes `a/<path>`.
fn prefixed(prefix: &str, path: &[u8]) -> String {
    let mut bytes = prefix.as_bytes().to_vec();
    bytes.extend_from_slice(path);
    display_path(&bytes)
}

fn mode_octal(mode: git2::FileMode) -> String {
    format!("{:o}", u32::from(mode))
}

/// The patch of one file, in the order git writes it: `diff --git`, extended headers, `index`,
/// then `---`/`+++` and hunks (or the "Binary files" line).
pub(super) fn render_patch(
    sink: &mut Sink,
    delta: &git2::DiffDelta<'_>,
    patch: Option<&git2::Patch<'_>>,
) -> Result<(), Error> {
    let old = delta.old_file();
    let new = delta.new_file();
    let status = delta.status();
    let a = prefixed("a/", old.path_bytes().unwrap_or_default());
    let b = prefixed("b/", new.path_bytes().unwrap_or_default());
    sink.line(|t| {
        t.push_str("diff --git ");
        t.push_str(&a);
        t.push(' ');
        t.push_str(&b);
    });
    let old_exists = status != git2::Delta::Added && status != git2::Delta::Untracked;
    let new_exists = status != git2::Delta::Deleted;
    extended_headers(sink, delta, old_exists, new_exists);
    let label = |exists: bool, name: &str| {
        if exists {
            name.to_owned()
        } else {
            "/dev/null".to_owned()
        }
    };
    let (la, lb) = (label(old_exists, &a), label(new_exists, &b));
    if delta.flags().is_binary() {
        if old.id() != new.id() {
            sink.line(|t| t.push_str(&format!("Binary files {la} and {lb} differ")));
        }
        return Ok(());
    }
    let Some(patch) = patch else {
        return Ok(());
    };
    if patch.num_hunks() == 0 {
        return Ok(());
    }
    hunks(sink, patch, &la, &lb)
}

/// The lines between `diff --git` and the hunks: mode changes, rename or copy, and `index`.
fn extended_headers(
    sink: &mut Sink,
    delta: &git2::DiffDelta<'_>,
    old_exists: bool,
    new_exists: bool,
) {
    let old = delta.old_file();
    let new = delta.new_file();
    let status = delta.status();
    let (old_mode, new_mode) = (mode_octal(old.mode()), mode_octal(new.mode()));
    match status {
        git2::Delta::Added | git2::Delta::Untracked => {
            sink.line(|t| t.push_str(&format!("new file mode {new_mode}")));
        }
        git2::Delta::Deleted => sink.line(|t| t.push_str(&format!("deleted file mode {old_mode}"))),
        _ if old_mode != new_mode => {
            sink.line(|t| t.push_str(&format!("old mode {old_mode}")));
            sink.line(|t| t.push_str(&format!("new mode {new_mode}")));
        }
        _ => {}
    }
    if matches!(status, git2::Delta::Renamed | git2::Delta::Copied) {
        let word = if status == git2::Delta::Renamed {
            "rename"
        } else {
            "copy"
        };
        if old.id() == new.id() {
            sink.line(|t| t.push_str("similarity index 100%"));
        }
        let old_path = old.path_bytes().unwrap_or_default();
        let new_path = new.path_bytes().unwrap_or_default();
        sink.line(|t| t.push_str(&format!("{word} from {}", display_path(old_path))));
        sink.line(|t| t.push_str(&format!("{word} to {}", display_path(new_path))));
    }
    let known = |f: &git2::DiffFile<'_>, exists: bool| !exists || f.is_valid_id();
    if old.id() != new.id() && known(&old, old_exists) && known(&new, new_exists) {
        let same_mode = old_exists && new_exists && old_mode == new_mode;
        sink.line(|t| {
            t.push_str(&format!(
                "index {}..{}",
                short_id(old.id()),
                short_id(new.id())
            ));
            if same_mode {
                t.push(' ');
                t.push_str(&old_mode);
            }
        });
    }
}

/// The `---`/`+++` lines (`la` and `lb` name the sides) and every hunk.
fn hunks(sink: &mut Sink, patch: &git2::Patch<'_>, la: &str, lb: &str) -> Result<(), Error> {
    // git ends a name containing a space with a tab on these two lines, so that tools can tell
    // where it stops.
    let tab = |name: &str| if name.contains(' ') { "\t" } else { "" };
    sink.line(|t| t.push_str(&format!("--- {la}{}", tab(la))));
    sink.line(|t| t.push_str(&format!("+++ {lb}{}", tab(lb))));
    for h in 0..patch.num_hunks() {
        let (hunk, lines) = patch.hunk(h)?;
        sink.lossy("", trim_newline(hunk.header()));
        for l in 0..lines {
            let line = patch.line_in_hunk(h, l)?;
            match line.origin() {
                c @ ('+' | '-' | ' ') => {
                    let mut prefix = [0u8; 4];
                    sink.lossy(c.encode_utf8(&mut prefix), trim_newline(line.content()));
                }
                '=' | '>' | '<' => sink.line(|t| t.push_str("\\ No newline at end of file")),
                _ => {}
            }
        }
    }
    Ok(())
}

fn trim_newline(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(b"\n").unwrap_or(bytes)
}
