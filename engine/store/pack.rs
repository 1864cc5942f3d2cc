//! The pack: one file holding a whole cache entry, the layout every new entry is written in.
//!
//! ```text
//! 0                  header: MAGIC (8 bytes), PACK_FORMAT (u32 LE), 0 (u32)
//! 16                 each table's Parquet bytes (exactly what `codec::encode` writes), back to
//!                    back in the metadata's order
//! end of the tables  the metadata: `EntryMeta` as JSON (key, the write time, per table name,
//!                    offset, bytes, blake3, rows; the summary)
//! length - 52        footer: metadata length (u64 LE), blake3 of the metadata (32 bytes),
//!                    PACK_FORMAT (u32 LE), MAGIC
//! ```
//!
//! The metadata sits at the end so a writer streams the tables and appends it; a reader takes
//! the footer from the file's last 52 bytes. Every byte is covered by a check: header and footer
//! by their fixed fields, the metadata by its hash in the footer, each table by its hash in the
//! metadata; the metadata's offsets must place the tables back to back from the header to the
//! metadata, so a pack of another length (cut, or grown) fails on its footer or its offsets.
//! This module is pure: it builds and parses bytes; `parquet::packed` does the I/O.

use std::ops::Range;

use super::meta::{EntryMeta, PACK_FORMAT};
use crate::key::Key;

const MAGIC: &[u8; 8] = b"censuspk";
pub(super) const HEADER_LEN: u64 = 16;
pub(super) const FOOTER_LEN: u64 = 52;

/// The first `HEADER_LEN` bytes of every pack.
pub(super) fn header() -> [u8; HEADER_LEN as usize] {
    let mut out = [0; HEADER_LEN as usize];
    out[..8].copy_from_slice(MAGIC);
    out[8..12].copy_from_slice(&PACK_FORMAT.to_le_bytes());
    out
}

/// Whether `bytes` (the first `HEADER_LEN` bytes of a file) are a pack's header.
pub(super) fn check_header(bytes: &[u8]) -> Result<(), String> {
    if bytes == header() {
        Ok(())
    } else {
        Err("the pack's header is not census's".to_string())
    }
}

/// What follows a pack's tables: the metadata and the footer.
pub(super) fn tail(meta: &EntryMeta) -> Vec<u8> {
    let mut out = serde_json::to_vec(meta).expect("entry metadata serialises");
    let hash = blake3::hash(&out);
    out.extend_from_slice(&(out.len() as u64).to_le_bytes());
    out.extend_from_slice(hash.as_bytes());
    out.extend_from_slice(&PACK_FORMAT.to_le_bytes());
    out.extend_from_slice(MAGIC);
    out
}

/// Where a pack's metadata lies, and its hash, as the footer says.
#[derive(Debug)]
pub(super) struct Footer {
    pub meta: Range<u64>,
    hash: [u8; 32],
}

/// Parses the footer (`bytes`, the last `FOOTER_LEN` bytes of a file of `file_len` bytes).
pub(super) fn footer(bytes: &[u8], file_len: u64) -> Result<Footer, String> {
    let bad = |what: &str| Err(format!("the pack's footer {what}"));
    if bytes.len() as u64 != FOOTER_LEN || file_len < HEADER_LEN + FOOTER_LEN {
        return bad(&format!("is missing: the file has {file_len} bytes"));
    }
    let (len, rest) = bytes.split_at(8);
    let (hash, rest) = rest.split_at(32);
    let (format, magic) = rest.split_at(4);
    if magic != MAGIC || format != PACK_FORMAT.to_le_bytes() {
        return bad("is not census's");
    }
    let len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
    let end = file_len - FOOTER_LEN;
    if len > end - HEADER_LEN {
        return bad(&format!(
            "records {len} bytes of metadata in a file of {file_len}"
        ));
    }
    Ok(Footer {
        meta: end - len..end,
        hash: hash.try_into().expect("32 bytes"),
    })
}

/// Parses and checks the metadata (`bytes`, read from `footer.meta`) of a pack of `key`.
pub(super) fn metadata(key: &Key, footer: &Footer, bytes: &[u8]) -> Result<EntryMeta, String> {
    if blake3::hash(bytes).as_bytes() != &footer.hash {
        return Err("the pack's metadata fails its blake3 check".to_string());
    }
    let meta: EntryMeta = serde_json::from_slice(bytes)
        .map_err(|e| format!("the pack's metadata is not valid: {e}"))?;
    meta.check_pack(key, footer.meta.start)?;
    Ok(meta)
}

/// The metadata of a whole pack held in memory (what a reader does with three reads).
#[cfg(test)]
pub(super) fn parse(key: &Key, pack: &[u8]) -> Result<EntryMeta, String> {
    let len = pack.len() as u64;
    check_header(&pack[..pack.len().min(HEADER_LEN as usize)])?;
    let footer = footer(&pack[len.saturating_sub(FOOTER_LEN) as usize..], len)?;
    let range = footer.meta.start as usize..footer.meta.end as usize;
    metadata(key, &footer, &pack[range])
}

#[cfg(test)]
mod tests {
    use super::super::meta::TableMeta;
    use super::*;

    /// A pack of the given tables, and its metadata.
    fn pack(key: &Key, tables: &[(&str, &[u8])]) -> (Vec<u8>, EntryMeta) {
        let mut out = header().to_vec();
        let mut metas = Vec::new();
        for (name, bytes) in tables {
            metas.push(TableMeta {
                name: name.to_string(),
                file: None,
                offset: Some(out.len() as u64),
                bytes: bytes.len() as u64,
                blake3: blake3::hash(bytes).to_hex().to_string(),
                rows: 3,
            });
            out.extend_from_slice(bytes);
        }
        let meta = EntryMeta {
            format: PACK_FORMAT,
            key: key.hex(),
            written: Some(1_700_000_000),
            tables: metas,
            summary: [("solved".to_string(), "true".to_string())].into(),
        };
        out.extend_from_slice(&tail(&meta));
        (out, meta)
    }

    fn key() -> Key {
        Key::from_bytes([3; 32])
    }

    #[test]
    fn a_pack_round_trips_its_metadata_and_table_offsets() {
        let (bytes, meta) = pack(&key(), &[("network", b"PAR1 one PAR1"), ("w", b"xy")]);
        assert_eq!(parse(&key(), &bytes), Ok(meta.clone()));
        let t = &meta.tables[1];
        let at = t.offset.unwrap() as usize;
        assert_eq!(&bytes[at..at + t.bytes as usize], b"xy");
        let (empty, meta) = pack(&key(), &[]);
        assert_eq!(parse(&key(), &empty), Ok(meta));
        assert!(
            parse(&Key::from_bytes([4; 32]), &bytes).is_err(),
            "another key"
        );
    }

    #[test]
    fn a_pack_cut_at_any_length_or_grown_is_refused() {
        let (bytes, _) = pack(&key(), &[("a", b"0123456789"), ("b", b"")]);
        for cut in 0..bytes.len() {
            assert!(parse(&key(), &bytes[..cut]).is_err(), "cut at {cut}");
        }
        let mut grown = bytes.clone();
        grown.push(0);
        assert!(parse(&key(), &grown).is_err());
        let mut shifted = b"x".to_vec();
        shifted.extend_from_slice(&bytes);
        assert!(parse(&key(), &shifted).is_err());
    }

    #[test]
    fn every_flipped_byte_outside_the_tables_is_refused() {
        let (bytes, meta) = pack(&key(), &[("a", b"0123456789")]);
        let tables = HEADER_LEN as usize..HEADER_LEN as usize + 10;
        for at in (0..bytes.len()).filter(|at| !tables.contains(at)) {
            let mut bad = bytes.clone();
            bad[at] ^= 0x01;
            assert!(parse(&key(), &bad).is_err(), "flip at {at}");
        }
        let mut inside = bytes.clone();
        inside[tables.start] ^= 1;
        assert_eq!(
            parse(&key(), &inside),
            Ok(meta),
            "tables are checked by their hashes"
        );
    }

    #[test]
    fn wrong_magic_or_format_is_refused_with_a_reason() {
        let (bytes, _) = pack(&key(), &[("a", b"abc")]);
        let mut other = bytes.clone();
        other[..8].copy_from_slice(b"PAR1PAR1");
        assert_eq!(
            parse(&key(), &other),
            Err("the pack's header is not census's".to_string())
        );
        let mut other = bytes.clone();
        let n = other.len();
        other[n - 12..n - 8].copy_from_slice(&(PACK_FORMAT + 1).to_le_bytes());
        assert_eq!(
            parse(&key(), &other),
            Err("the pack's footer is not census's".to_string())
        );
    }

    #[test]
    fn offsets_outside_the_file_or_overlapping_are_refused() {
        let (_, meta) = pack(&key(), &[("a", b"abc"), ("b", b"de")]);
        let rebuilt = |edit: &dyn Fn(&mut EntryMeta)| {
            let mut m = meta.clone();
            edit(&mut m);
            let mut out = header().to_vec();
            out.extend_from_slice(b"abcde");
            out.extend_from_slice(&tail(&m));
            parse(&key(), &out)
        };
        assert!(rebuilt(&|_| {}).is_ok());
        assert!(rebuilt(&|m| m.tables[1].offset = Some(1 << 40)).is_err());
        assert!(rebuilt(&|m| m.tables[1].bytes = 1 << 40).is_err());
        assert!(rebuilt(&|m| m.tables[1].offset = Some(HEADER_LEN + 1)).is_err());
        assert!(rebuilt(&|m| m.tables[0].bytes = 2).is_err());
        assert!(rebuilt(&|m| m.written = None).is_err());
        // A metadata length pointing before the header.
        let (mut bytes, _) = pack(&key(), &[("a", b"abc")]);
        let at = bytes.len() - FOOTER_LEN as usize;
        let len = (bytes.len() as u64).to_le_bytes();
        bytes[at..at + 8].copy_from_slice(&len);
        let err = parse(&key(), &bytes).unwrap_err();
        assert!(err.starts_with("the pack's footer records"), "{err}");
    }
}
