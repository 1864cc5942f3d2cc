//! The manifest: what a user declares, parsed raw (`raw`, with spans), then checked once
//! (`check`) into the types the planner uses. A bad manifest is an error that names the file,
//! line, column and field of every mistake (up to a cap); nothing runs on it.
//!
//! Reading goes: `file` (a regular file, size-capped) → `document` (TOML syntax, then each study
//! read through `de`, a deserializer that knows every value's span and path, with `recover`
//! collecting all structural errors and `suggest` offering the nearest known name) → `check`
//! (ranges, non-empty grids, references between analyses).

mod check;
mod de;
mod document;
mod error;
mod file;
mod lists;
mod path;
mod raw;
mod recover;
mod suggest;

pub use crate::study::Analysis;
pub use check::{parse, Config, Manifest, Probe, Search, Study, Train};
pub use error::{ManifestError, Source, SHOWN};
pub use file::MAX_BYTES;

/// Reads and checks a manifest file.
pub fn load(path: &std::path::Path) -> Result<Manifest, ManifestError> {
    parse(path, &file::read(path)?)
}
