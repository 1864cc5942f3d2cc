//! The manifest: what a user declares, parsed raw (`raw`, with spans), then checked once
//! (`check`) into the types the planner uses. A bad manifest is an error that names the file,
//! line, column and field; nothing runs on it.

pub mod analysis;
mod check;
mod error;
mod lists;
mod raw;

pub use analysis::{
    Analysis, ClusteringParams, FixedPointParams, MdsMethod, MdsParams, SvccaKeep, SvccaParams,
    TopologyParams,
};
pub use check::{parse, Config, Manifest, Probe, Search, Study, Train};
pub use error::{ManifestError, Source};

/// Reads and checks a manifest file.
pub fn load(path: &std::path::Path) -> Result<Manifest, ManifestError> {
    let text = std::fs::read_to_string(path).map_err(|e| ManifestError {
        file: path.to_path_buf(),
        line: 0,
        column: 0,
        field: String::new(),
        message: format!("cannot read the manifest: {e}"),
    })?;
    parse(path, &text)
}
