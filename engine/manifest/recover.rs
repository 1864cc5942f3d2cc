//! Every structural error of a part of the manifest, not just the first: deserialize, note the
//! error, cut the offending key (or list element) out of the tree, and deserialize again, until
//! the part deserializes or the error budget is spent.
//!
//! A cut key falls back to its default, so later checks see valid values; a key that has no
//! default makes its table missing a field, which is a consequence of the cut and not reported,
//! and the table is cut in turn. Cutting list elements shifts later indices: every error is
//! reported with the indices of the file as written. The paths cut are returned so that the
//! semantic checks can stay quiet about values they no longer see as written.

use super::de::{read, DeError, Kind};
use super::path::{Path, Seg};
use serde::de::DeserializeOwned;
use toml::de::{DeArray, DeValue};
use toml::Spanned;

/// What a part of the manifest gave: its value when it could still be read, the errors found
/// (located, in the file's own indices) and the paths cut out.
pub struct Outcome<T> {
    pub value: Option<T>,
    pub errors: Vec<DeError>,
    pub cut: Vec<Path>,
}

/// Deserializes `part` (found at `base`) as a `T`, collecting up to `limit` errors.
pub fn recover<T: DeserializeOwned>(
    part: &Spanned<DeValue<'_>>,
    base: &Path,
    limit: usize,
) -> Outcome<T> {
    let mut tree = part.clone();
    let mut out = Outcome {
        value: None,
        errors: Vec::new(),
        cut: Vec::new(),
    };
    let mut shifts: Vec<(Path, usize)> = Vec::new();
    while out.errors.len() < limit {
        let e = match read::<T>(&tree, base) {
            Ok(v) => {
                out.value = Some(v);
                break;
            }
            Err(e) => pin::<T>(&tree, base, e),
        };
        let Some(at) = e.at.clone() else {
            out.errors.push(e);
            break;
        };
        let written = unshift(&at.path, &shifts);
        let consequence = match &e.kind {
            Kind::MissingField(f) => {
                out.cut.contains(&written.key(f)) || misspelt(&out.errors, &written, f)
            }
            _ => false,
        };
        if !consequence {
            let mut e = e;
            e.at.as_mut().expect("checked above").path = written.clone();
            out.errors.push(e);
        }
        match cut(&mut tree, base, &at.path) {
            Some(Cut::Key) => out.cut.push(written),
            Some(Cut::Element(list, i)) => {
                out.cut.push(unshift(&list, &shifts));
                shifts.push((list, i));
            }
            None => break,
        }
    }
    out
}

/// Whether a key missing from the table at `table` was reported already as misspelt.
fn misspelt(errors: &[DeError], table: &Path, key: &str) -> bool {
    errors.iter().any(|e| {
        matches!(e.kind, Kind::UnknownField(_, Some(k)) if k == key)
            && e.at
                .as_ref()
                .is_some_and(|a| a.path.0.split_last().map(|(_, t)| t) == Some(&table.0[..]))
    })
}

enum Cut {
    Key,
    /// The list (in the indices of the tree it was cut from) and the element's index.
    Element(Path, usize),
}

/// Removes the value at `path` from the tree; `None` when it is the whole part or not found.
fn cut(tree: &mut Spanned<DeValue<'_>>, base: &Path, path: &Path) -> Option<Cut> {
    let rel = path.0.strip_prefix(base.0.as_slice())?;
    let (last, parent) = rel.split_last()?;
    match (last, find_mut(tree, parent)?.get_mut()) {
        (Seg::Key(k), DeValue::Table(t)) => t.remove(k.as_str()).map(|_| Cut::Key),
        (Seg::Index(i), DeValue::Array(items)) if *i < items.len() => {
            let mut kept = DeArray::new();
            for (j, item) in items.iter().enumerate() {
                if j != *i {
                    kept.push(item.clone());
                }
            }
            *items = kept;
            let list = Path(path.0[..path.0.len() - 1].to_vec());
            Some(Cut::Element(list, *i))
        }
        _ => None,
    }
}

fn find_mut<'t, 'de>(
    tree: &'t mut Spanned<DeValue<'de>>,
    rel: &[Seg],
) -> Option<&'t mut Spanned<DeValue<'de>>> {
    let mut node = tree;
    for seg in rel {
        node = match (seg, node.get_mut()) {
            (Seg::Key(k), DeValue::Table(t)) => t.get_mut(k.as_str())?,
            (Seg::Index(i), DeValue::Array(a)) => a.get_mut(*i)?,
            _ => return None,
        };
    }
    Some(node)
}

/// Maps a path in the cut tree back to the indices of the file as written.
fn unshift(path: &Path, shifts: &[(Path, usize)]) -> Path {
    let mut p = path.clone();
    for (list, removed) in shifts.iter().rev() {
        let n = list.0.len();
        if p.0.len() > n && p.0.starts_with(&list.0) {
            if let Seg::Index(j) = &mut p.0[n] {
                if *j >= *removed {
                    *j += 1;
                }
            }
        }
    }
    p
}

/// An error a table raised for a value whose key serde forgot (a field of a tagged enum) is
/// pinned on that key: serde reads the table's keys in order and stops at the first bad one, so
/// the first prefix of keys that reproduces the error ends with the culprit. Keys the table
/// cannot do without (the tag, required fields) are added to every prefix as serde asks for them.
fn pin<T: DeserializeOwned>(tree: &Spanned<DeValue<'_>>, base: &Path, e: DeError) -> DeError {
    let Some(at) = e.at.as_ref().filter(|a| a.unresolved) else {
        return e;
    };
    let Some(rel) = at.path.0.strip_prefix(base.0.as_slice()) else {
        return e;
    };
    let mut probe = tree.clone();
    let Some(DeValue::Table(table)) = find_mut(&mut probe, rel).map(|t| t.get_ref().clone()) else {
        return e;
    };
    let keys: Vec<String> = table.iter().map(|(k, _)| k.get_ref().to_string()).collect();
    for n in 0..keys.len() {
        let mut keep: Vec<&str> = keys[..=n].iter().map(String::as_str).collect();
        for _ in 0..=keys.len() {
            let Some(DeValue::Table(t)) = find_mut(&mut probe, rel).map(|t| t.get_mut()) else {
                return e;
            };
            *t = table.clone();
            for k in keys.iter().filter(|k| !keep.contains(&k.as_str())) {
                t.remove(k.as_str());
            }
            let Err(trial) = read::<T>(&probe, base) else {
                break;
            };
            let here = trial.at.as_ref().is_some_and(|a| a.path == at.path);
            match &trial.kind {
                _ if here && trial.message == e.message => {
                    let (_, value) = table.get_key_value(keys[n].as_str()).expect("a key of it");
                    let mut pinned = e.clone();
                    pinned.at = None;
                    return pinned.located(value.span(), at.path.key(&keys[n]), false);
                }
                Kind::MissingField(f)
                    if here && keys.iter().any(|k| k == f) && !keep.contains(f) =>
                {
                    keep.push(f)
                }
                _ => break,
            }
        }
    }
    e
}
