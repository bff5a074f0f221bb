//! The diffstat, laid out as `git diff --stat` does.

use super::change::FileChange;
use super::window::Sink;
use crate::git::fmt::stat_summary;

/// The diffstat, laid out as `git diff --stat` does on an 80-column output (git's `show_stats`).
pub(super) fn render_stat(sink: &mut Sink, files: &[FileChange]) {
    let names: Vec<String> = files.iter().map(stat_name).collect();
    let layout = Layout::of(files, &names);
    let (mut adds, mut dels) = (0, 0);
    for (f, name) in files.iter().zip(&names) {
        if !f.binary {
            adds += f.additions;
            dels += f.deletions;
        }
        layout.file_line(sink, f, name);
    }
    sink.line(|t| t.push_str(&stat_summary(files.len(), adds, dels)));
}

/// The column widths of a diffstat: names, change counts and the `+++--` graph.
struct Layout {
    name_width: usize,
    number_width: usize,
    graph_width: usize,
    /// The largest change of a text file, which the graph scales to its width.
    max_change: usize,
}

impl Layout {
    /// Fits the columns into 80 as git does: the graph gets at most 3/8 of the width, then the
    /// names what is left (cut from the front by [`fit_name`]).
    fn of(files: &[FileChange], names: &[String]) -> Self {
        const WIDTH: usize = 80;
        let mut max_len = 0;
        let mut max_change = 0;
        let mut bin_width = 0;
        let mut number_width = 0;
        for (f, name) in files.iter().zip(names) {
            max_len = max_len.max(name.chars().count());
            if f.binary {
                bin_width =
                    bin_width.max(14 + decimal_width(f.new_size) + decimal_width(f.old_size));
                number_width = 3;
            } else {
                max_change = max_change.max(f.additions + f.deletions);
            }
        }
        number_width = number_width.max(decimal_width(max_change as u64));
        let mut graph_width = if max_change + 4 > bin_width {
            max_change
        } else {
            bin_width - 4
        };
        let mut name_width = max_len;
        if name_width + number_width + 6 + graph_width > WIDTH {
            let limit = (WIDTH * 3 / 8).saturating_sub(number_width + 6).max(6);
            graph_width = graph_width.min(limit);
            let room = WIDTH.saturating_sub(number_width + 6 + graph_width);
            if name_width > room {
                name_width = room;
            } else {
                graph_width = WIDTH.saturating_sub(number_width + 6 + name_width);
            }
        }
        Self {
            name_width,
            number_width,
            graph_width,
            max_change,
        }
    }

    /// One file's line: ` name | 12 +++--` or ` name | Bin 10 -> 20 bytes`.
    fn file_line(&self, sink: &mut Sink, f: &FileChange, name: &str) {
        let (name_width, number_width) = (self.name_width, self.number_width);
        let name = fit_name(name, name_width);
        let pad = name_width.saturating_sub(name.chars().count());
        if f.binary {
            sink.line(|t| {
                t.push_str(&format!(" {name}{:pad$} | {:>number_width$}", "", "Bin"));
                if f.old_size != 0 || f.new_size != 0 {
                    t.push_str(&format!(" {} -> {} bytes", f.old_size, f.new_size));
                }
            });
            return;
        }
        let (add, del) = self.graph(f.additions, f.deletions);
        let changed = f.additions + f.deletions;
        sink.line(|t| {
            t.push_str(&format!(" {name}{:pad$} | {changed:>number_width$}", ""));
            if changed > 0 {
                t.push(' ');
            }
            t.push_str(&"+".repeat(add));
            t.push_str(&"-".repeat(del));
        });
    }

    /// How many `+` and `-` a change gets, scaled down when the largest would not fit.
    fn graph(&self, mut add: usize, mut del: usize) -> (usize, usize) {
        let (width, max_change) = (self.graph_width, self.max_change);
        if width <= max_change {
            let mut total = scale_linear(add + del, width, max_change);
            if total < 2 && add > 0 && del > 0 {
                total = 2;
            }
            if add < del {
                add = scale_linear(add, width, max_change);
                del = total.saturating_sub(add);
            } else {
                del = scale_linear(del, width, max_change);
                add = total.saturating_sub(del);
            }
        }
        (add, del)
    }
}

fn decimal_width(n: u64) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// git's `scale_linear`: at least one column for any change.
fn scale_linear(it: usize, width: usize, max_change: usize) -> usize {
    if it == 0 || max_change == 0 {
        return 0;
    }
    1 + it * width.saturating_sub(1) / max_change
}

/// A name too wide for its column loses its head: `.../rest/of/path`.
fn fit_name(name: &str, width: usize) -> String {
    let len = name.chars().count();
    if len <= width {
        return name.to_owned();
    }
    let keep = width.saturating_sub(3);
    let tail: String = name.chars().skip(len - keep).collect();
    match tail.find('/') {
        Some(slash) => format!("...{}", &tail[slash..]),
        None => format!("...{tail}"),
    }
}

/// The name a diffstat line shows: the path, or `old => new` with the common prefix and suffix
/// factored out as `dir/{old => new}/rest` (git's `pprint_rename`).
fn stat_name(f: &FileChange) -> String {
    let Some(old_path) = &f.old_path else {
        return f.path.clone();
    };
    if old_path.starts_with('"') || f.path.starts_with('"') {
        return format!("{old_path} => {}", f.path);
    }
    // Both are plain UTF-8 here (display_path did not quote them).
    let (a, b) = (old_path.as_bytes(), f.path.as_bytes());
    let mut pfx = 0;
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        if x != y {
            break;
        }
        if *x == b'/' {
            pfx = i + 1;
        }
    }
    // Walk back from the ends (the terminators compare equal, as in C) while the bytes agree,
    // at most one byte into the common prefix so that its slash can end the suffix.
    let adjust = usize::from(pfx > 0);
    let (mut sfx, mut p, mut q) = (0, a.len(), b.len());
    while p + adjust >= pfx && q + adjust >= pfx && a.get(p) == b.get(q) {
        if a.get(p) == Some(&b'/') {
            sfx = a.len() - p;
        }
        if p == 0 || q == 0 {
            break;
        }
        p -= 1;
        q -= 1;
    }
    let a_mid = a.len().saturating_sub(pfx + sfx);
    let b_mid = b.len().saturating_sub(pfx + sfx);
    let s = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    let mid_a = s(a.get(pfx..pfx + a_mid).unwrap_or_default());
    let mid_b = s(b.get(pfx..pfx + b_mid).unwrap_or_default());
    if pfx + sfx == 0 {
        return format!("{mid_a} => {mid_b}");
    }
    format!(
        "{}{{{mid_a} => {mid_b}}}{}",
        s(&a[..pfx]),
        s(&a[a.len() - sfx..])
    )
}
