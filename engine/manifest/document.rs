//! The document as a whole, before the semantic checks: TOML syntax (the first error), the
//! top-level keys, then each `[[study]]` read on its own with every structural error found
//! (`recover`), so that one study's errors do not hide another's.

use super::de::DeError;
use super::error::{ManifestError, Source};
use super::path::Path;
use super::raw::{RawManifest, RawStudy};
use super::recover::recover;
use std::ops::Range;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

/// How many errors are searched for before giving up on a manifest.
pub const LIMIT: usize = 100;

/// The studies that could be read, and the errors of those that could not.
pub struct Studies {
    pub read: Vec<ReadStudy>,
    pub errors: Vec<ManifestError>,
    /// The error budget ran out: there may be more.
    pub stopped: bool,
}

pub struct ReadStudy {
    /// Position among the `[[study]]` tables of the file.
    pub index: usize,
    pub span: Range<usize>,
    pub raw: RawStudy,
    /// Paths cut out of the study while reading it (see `recover`).
    pub cut: Vec<Path>,
}

/// Reads the studies of a manifest; a syntax error is returned at once, alone.
pub fn read(source: &Source) -> Result<Studies, ManifestError> {
    // Only the first syntax error: after it, the parser's recovery mostly reports its guesses
    // (an unclosed `[` makes every later line "missing a comma").
    let doc = DeTable::parse(&source.text)
        .map_err(|e| ManifestError::at(source, e.span(), "", e.message().trim()))?;
    let doc = Spanned::new(doc.span(), DeValue::Table(doc.into_inner()));
    let root = recover::<RawManifest>(&doc, &Path::default(), LIMIT);
    let mut errors: Vec<DeError> = root.errors;
    let mut read = Vec::new();
    let study = Path::default().key("study");
    // `study` was read as a list unless it was cut out as not being one.
    let count = root.value.map_or(0, |m| m.study.len());
    let tables = match doc.get_ref().get("study").map(|s| s.get_ref()) {
        Some(DeValue::Array(items)) => &items[..count.min(items.len())],
        _ => &[],
    };
    for (index, table) in tables.iter().enumerate() {
        let budget = LIMIT.saturating_sub(errors.len());
        if budget == 0 {
            break;
        }
        let out = recover::<RawStudy>(table, &study.index(index), budget);
        errors.extend(out.errors);
        if let Some(raw) = out.value {
            read.push(ReadStudy {
                index,
                span: table.span(),
                raw,
                cut: out.cut,
            });
        }
    }
    Ok(Studies {
        read,
        stopped: errors.len() >= LIMIT,
        errors: errors.into_iter().map(|e| located(source, e)).collect(),
    })
}

fn located(source: &Source, e: DeError) -> ManifestError {
    let (span, field) = e.at.map_or((None, String::new()), |a| {
        (Some(a.span), a.path.to_string())
    });
    ManifestError::at(source, span, &field, e.message)
}
