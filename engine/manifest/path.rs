//! Where a value sits in a manifest: `study[2].analysis[3].tol`. Printed in error messages and
//! used to find a value again in the parsed TOML tree.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A path from the document root; empty for the root itself.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Path(pub Vec<Seg>);

impl Path {
    pub fn key(&self, k: &str) -> Path {
        self.with(Seg::Key(k.to_string()))
    }

    pub fn index(&self, i: usize) -> Path {
        self.with(Seg::Index(i))
    }

    fn with(&self, seg: Seg) -> Path {
        let mut p = self.clone();
        p.0.push(seg);
        p
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Index(n) => write!(f, "[{n}]")?,
                Seg::Key(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !k.is_empty()
                        && k.chars()
                            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(k)?;
                    } else {
                        write!(f, "{k:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_keys_dotted_indices_bracketed_and_odd_keys_quoted() {
        let p = Path::default()
            .key("study")
            .index(2)
            .key("analysis")
            .index(3);
        assert_eq!(p.key("tol").to_string(), "study[2].analysis[3].tol");
        assert_eq!(p.key("a b").to_string(), "study[2].analysis[3].\"a b\"");
        assert_eq!(Path::default().key("").to_string(), "\"\"");
    }
}
