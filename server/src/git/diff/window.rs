//! Which lines of a long diff body are shown: only those are formatted, all are counted.

use crate::git::Error;

/// Which lines of a long body to show.
#[derive(Debug, Clone, Copy)]
pub(in crate::git) struct Window {
    pub(super) offset: usize,
    max_lines: usize,
}

impl Window {
    const DEFAULT_LINES: usize = 300;
    /// A larger request is cut to this; the "more" line says how to go on.
    const MAX_LINES: usize = 5_000;

    pub(in crate::git) fn new(
        offset: Option<usize>,
        max_lines: Option<usize>,
    ) -> Result<Self, Error> {
        let max_lines = max_lines.unwrap_or(Self::DEFAULT_LINES);
        if max_lines == 0 {
            return Err(Error::Refused("max_lines must be at least 1".into()));
        }
        Ok(Self {
            offset: offset.unwrap_or(0),
            max_lines: max_lines.min(Self::MAX_LINES),
        })
    }

    /// The first line past the window.
    pub(super) fn end(&self) -> usize {
        self.offset.saturating_add(self.max_lines)
    }
}

/// Collects body lines, formatting only those inside the window but counting all of them.
pub(super) struct Sink {
    window: Window,
    /// Lines seen so far, shown or not.
    pub(super) count: usize,
    /// The lines inside the window, each ending in a newline.
    pub(super) text: String,
}

impl Sink {
    pub(super) fn new(window: Window) -> Self {
        Self {
            window,
            count: 0,
            text: String::new(),
        }
    }

    pub(super) fn line(&mut self, f: impl FnOnce(&mut String)) {
        if self.count >= self.window.offset && self.count < self.window.end() {
            f(&mut self.text);
            self.text.push('\n');
        }
        self.count += 1;
    }

    pub(super) fn lossy(&mut self, prefix: &str, bytes: &[u8]) {
        self.line(|t| {
            t.push_str(prefix);
            t.push_str(&String::from_utf8_lossy(bytes));
        });
    }
}
