//! Where `export` and `report` may write: a folder inside the project, the folder census runs
//! in, so a typo such as `--out /` or `--out ../..` cannot scatter files over someone's disk.
//! `--allow-outside` lifts the rule for a deliberate destination (a scratch disk on a cluster).

use std::path::{Component, Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    #[error("--out {out}: outside the project folder {project} (the folder census runs in); nothing was written. Give a folder inside it, or pass --allow-outside to write there on purpose")]
    Outside { out: String, project: String },
    #[error("--out {out}: the project folder itself; give a subfolder such as `results/`")]
    Project { out: String },
    #[error("--out {out}: {source}")]
    Io {
        out: String,
        #[source]
        source: std::io::Error,
    },
}

/// `out` as an absolute path, checked to lie strictly inside `project` (symbolic links of the
/// folders that exist resolved, `..` applied). Reads the file system; creates nothing.
pub fn inside_project(project: &Path, out: &Path) -> Result<PathBuf, OutDirError> {
    let io = |source| OutDirError::Io {
        out: out.display().to_string(),
        source,
    };
    let project = project.canonicalize().map_err(io)?;
    let resolved = resolve(&project.join(out)).map_err(io)?;
    if resolved == project {
        return Err(OutDirError::Project {
            out: out.display().to_string(),
        });
    }
    if !resolved.starts_with(&project) {
        return Err(OutDirError::Outside {
            out: out.display().to_string(),
            project: project.display().to_string(),
        });
    }
    Ok(resolved)
}

/// Canonicalises the longest existing ancestor of an absolute path and applies the remaining
/// components lexically, so a folder that does not exist yet is judged by where it would be.
fn resolve(path: &Path) -> std::io::Result<PathBuf> {
    let mut out = PathBuf::new();
    let mut existing = true;
    for c in path.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => out.push(c),
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            Component::Normal(name) => {
                out.push(name);
                if existing {
                    match out.canonicalize() {
                        Ok(real) => out = real,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => existing = false,
                        Err(e) => return Err(e),
                    }
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_inside_the_project_pass_and_others_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        std::fs::create_dir_all(project.join("results")).unwrap();
        let real = project.canonicalize().unwrap();
        let ok = |out: &str| inside_project(&project, Path::new(out));

        assert_eq!(ok("results").unwrap(), real.join("results"));
        assert_eq!(ok("new/deeper").unwrap(), real.join("new/deeper"));
        assert_eq!(ok("results/../other").unwrap(), real.join("other"));
        assert_eq!(
            ok(real.join("abs").to_str().unwrap()).unwrap(),
            real.join("abs")
        );

        for bad in ["..", "../elsewhere", "new/../../x", "/", "/tmp"] {
            assert!(
                matches!(ok(bad), Err(OutDirError::Outside { .. })),
                "{bad} must be refused"
            );
        }
        assert!(matches!(ok("."), Err(OutDirError::Project { .. })));
        assert!(matches!(ok("results/.."), Err(OutDirError::Project { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn a_link_out_of_the_project_is_judged_by_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("project");
        std::fs::create_dir_all(&project).unwrap();
        std::os::unix::fs::symlink(dir.path(), project.join("escape")).unwrap();
        let err = inside_project(&project, Path::new("escape/x")).unwrap_err();
        assert!(
            err.to_string().contains("outside the project folder"),
            "{err}"
        );
    }
}
