//! Task keys: what enters the content hash of a task, and nothing else.
//!
//! A key is `blake3` over a canonical encoding of, in this order:
//! 1. `CACHE_FORMAT`, the global cache-format constant (bump it to invalidate every entry);
//! 2. the task kind's name and its algorithm version (bump a kind's version when its numbers
//!    change);
//! 3. the task's parameters as canonical JSON: object keys sorted, no whitespace, floats in
//!    shortest round-trip form, so key order, whitespace, comments and grid order in a manifest
//!    never matter;
//! 4. the keys of the tasks it depends on, in the order the kind defines.
//!
//! Never in a key: paths, times, thread counts, the manifest's file name, a study's name or any
//! label meant for people.
//!
//! An *action key* (`Key::action`) is the same recipe under another domain, with the digests of
//! the inputs' outputs (`Store::digest`) in place of the inputs' keys: two tasks with equal
//! action keys compute the same output, whatever their upstream keys (early cutoff).

use std::fmt;

/// Bump to invalidate every cache entry (a change of the on-disk layout or of the key recipe).
pub const CACHE_FORMAT: &str = "census-cache-1";

/// The domain of action keys, so that no action key can equal a task key.
const ACTION_FORMAT: &str = "census-action-1";

#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key([u8; 32]);

impl Key {
    pub fn compute(kind: &str, version: u32, params: &serde_json::Value, deps: &[Key]) -> Key {
        Key::of_canonical(kind, version, &canonical_json(params), deps)
    }

    /// `compute` with the parameters already in canonical JSON (`canonical_json`), so tasks
    /// that share their parameters serialise them once.
    pub fn of_canonical(kind: &str, version: u32, canonical: &str, deps: &[Key]) -> Key {
        Key::hash(CACHE_FORMAT, kind, version, canonical, deps)
    }

    /// The action key of a task: its kind, version and parameters, with the digests of its
    /// inputs' outputs (in dependency order) instead of their keys.
    pub fn action(kind: &str, version: u32, params: &serde_json::Value, digests: &[Key]) -> Key {
        Key::hash(
            ACTION_FORMAT,
            kind,
            version,
            &canonical_json(params),
            digests,
        )
    }

    fn hash(domain: &str, kind: &str, version: u32, canonical: &str, deps: &[Key]) -> Key {
        let mut h = blake3::Hasher::new();
        let mut field = |bytes: &[u8]| {
            h.update(&(bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(domain.as_bytes());
        field(kind.as_bytes());
        field(&version.to_le_bytes());
        field(canonical.as_bytes());
        field(&(deps.len() as u64).to_le_bytes());
        for d in deps {
            field(&d.0);
        }
        Key(*h.finalize().as_bytes())
    }

    pub fn hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(DIGITS[usize::from(b >> 4)] as char);
            s.push(DIGITS[usize::from(b & 15)] as char);
        }
        s
    }

    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Key {
        Key(bytes)
    }

    /// The short form used for `network_id` and in messages: 16 hex digits (64 bits).
    pub fn short(&self) -> String {
        self.hex()[..16].to_string()
    }

    pub fn from_hex(s: &str) -> Option<Key> {
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, b) in out.iter_mut().enumerate() {
            *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(Key(out))
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Key({})", self.short())
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

/// JSON with sorted object keys and no whitespace. serde_json's map is a `BTreeMap` (the
/// `preserve_order` feature is off), so `to_string` is already canonical; floats print in
/// shortest round-trip form.
pub fn canonical_json(v: &serde_json::Value) -> String {
    serde_json::to_string(v).expect("a JSON value always serialises")
}

/// The hash of the parameters alone, kept in slot records to tell "params changed" apart.
pub fn params_hash(params: &serde_json::Value) -> String {
    blake3::hash(canonical_json(params).as_bytes()).to_hex()[..16].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_ignores_object_key_order() {
        let a = json!({"units": 64, "l2": 1e-4, "arch": "gru"});
        let b = json!({"arch": "gru", "units": 64, "l2": 0.0001});
        assert_eq!(
            Key::compute("train", 1, &a, &[]),
            Key::compute("train", 1, &b, &[])
        );
    }

    #[test]
    fn key_depends_on_every_ingredient() {
        let p = json!({"x": 1});
        let base = Key::compute("k", 1, &p, &[]);
        assert_ne!(base, Key::compute("k", 2, &p, &[]));
        assert_ne!(base, Key::compute("j", 1, &p, &[]));
        assert_ne!(base, Key::compute("k", 1, &json!({"x": 2}), &[]));
        assert_ne!(base, Key::compute("k", 1, &p, &[base]));
        assert_eq!(Key::from_hex(&base.hex()), Some(base));
        assert_ne!(base, Key::action("k", 1, &p, &[]));
    }

    #[test]
    fn golden_key() {
        // Pinned: if this changes, every user's cache is invalidated; bump CACHE_FORMAT knowingly.
        let k = Key::compute("svcca", 1, &json!({"variance": 0.95}), &[]);
        assert_eq!(k.hex(), GOLDEN);
    }
    const GOLDEN: &str = "ce62d398105f30df68a1bef0023b29af1adba2c348b668b3daaee3cec5bc18f0";
}
