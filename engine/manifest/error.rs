//! Manifest errors: what is wrong, where (file, line, column, field) and what would be right.
//! One error carries the others of the same manifest, so a user fixes them all in one pass.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct ManifestError {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// Dotted path of the offending field, e.g. `study[0].grid.units`.
    pub field: String,
    pub message: String,
    /// The manifest's other errors, in the order they appear in the file (a boxed slice, which
    /// keeps every `Result<_, ManifestError>` under clippy's large-error size).
    pub also: Box<[ManifestError]>,
    /// Errors found beyond those listed (`also` stops at `SHOWN`).
    pub unshown: usize,
    /// Whether the search stopped early, so that there may be more than `unshown`.
    pub stopped: bool,
}

/// How many errors one report lists.
pub const SHOWN: usize = 20;

impl ManifestError {
    pub fn at(
        source: &Source,
        span: Option<std::ops::Range<usize>>,
        field: &str,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = span.map_or((0, 0), |s| source.line_col(s.start));
        ManifestError {
            file: source.path.clone(),
            line,
            column,
            field: field.to_string(),
            message: message.into(),
            also: Box::default(),
            unshown: 0,
            stopped: false,
        }
    }

    /// One report of several errors: the first in the file leads (errors about the whole file
    /// first), the rest follow up to `SHOWN` in all. `stopped`: the search gave up early.
    pub fn many(mut errors: Vec<ManifestError>, stopped: bool) -> Option<Self> {
        errors.sort_by_key(|e| (e.line, e.column));
        errors.dedup_by(|a, b| {
            (a.line, a.column, &a.field, &a.message) == (b.line, b.column, &b.field, &b.message)
        });
        let unshown = errors.len().saturating_sub(SHOWN);
        errors.truncate(SHOWN);
        let mut rest = errors.into_iter();
        let mut first = rest.next()?;
        first.also = rest.collect();
        first.unshown = unshown;
        first.stopped = stopped;
        Some(first)
    }

    /// This error and the others reported with it.
    pub fn all(&self) -> impl Iterator<Item = &ManifestError> {
        std::iter::once(self).chain(&self.also)
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.one(f)?;
        for e in &self.also {
            f.write_str("\n")?;
            e.one(f)?;
        }
        match (self.unshown, self.stopped) {
            (0, false) => Ok(()),
            (0, true) => write!(f, "\n… and possibly more: fix these first"),
            (n, false) => write!(f, "\n… and {n} more"),
            (n, true) => write!(f, "\n… and {n} more, possibly others: fix these first"),
        }
    }
}

impl ManifestError {
    fn one(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if self.line > 0 {
            write!(f, ":{}:{}", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, ": field `{}`", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ManifestError {}

/// The manifest text and its name, for turning byte offsets into lines and columns.
pub struct Source {
    pub path: PathBuf,
    pub text: String,
}

impl Source {
    pub fn new(path: &Path, text: String) -> Source {
        Source {
            path: path.to_path_buf(),
            text,
        }
    }

    /// 1-based line and column (in characters) of a byte offset.
    pub fn line_col(&self, offset: usize) -> (usize, usize) {
        let offset = offset.min(self.text.len());
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        (line, before[line_start..].chars().count() + 1)
    }
}
