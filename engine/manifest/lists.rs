//! Grid axes as a manifest writes them: a list, or a range.
//!
//! - integers: `[64, 128]` or `{ from = 64, to = 256, step = 64 }` (both ends inclusive);
//! - floats: `[1e-4, 1e-3]` or `{ from = 1e-5, to = 1e-2, num = 4, log = true }`;
//! - seeds: a count `30` (seeds 0..29), a list, or `{ from = 0, to = 29 }`.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub struct IntList(pub Vec<u64>);

#[derive(Clone, Debug, PartialEq)]
pub struct FloatList(pub Vec<f64>);

#[derive(Clone, Debug, PartialEq)]
pub struct Seeds(pub Vec<u64>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IntRange {
    from: u64,
    to: u64,
    #[serde(default = "one")]
    step: u64,
}

fn one() -> u64 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FloatRange {
    from: f64,
    to: f64,
    num: usize,
    #[serde(default)]
    log: bool,
}

fn int_range<E: de::Error>(r: IntRange) -> Result<Vec<u64>, E> {
    if r.step == 0 {
        return Err(E::custom("range `step` must be at least 1"));
    }
    if r.to < r.from {
        return Err(E::custom(format!(
            "range `to` ({}) is below `from` ({})",
            r.to, r.from
        )));
    }
    if (r.to - r.from) / r.step >= 1_000_000 {
        return Err(E::custom("range has more than a million values"));
    }
    Ok((r.from..=r.to).step_by(r.step as usize).collect())
}

fn float_range<E: de::Error>(r: FloatRange) -> Result<Vec<f64>, E> {
    if r.num == 0 || r.num > 1_000_000 {
        return Err(E::custom("range `num` must be between 1 and 1000000"));
    }
    if r.log && (r.from <= 0.0 || r.to <= 0.0) {
        return Err(E::custom(
            "a `log = true` range needs `from` and `to` above 0",
        ));
    }
    let (a, b) = if r.log {
        (r.from.log10(), r.to.log10())
    } else {
        (r.from, r.to)
    };
    Ok((0..r.num)
        .map(|i| {
            let t = if r.num == 1 {
                0.0
            } else {
                i as f64 / (r.num - 1) as f64
            };
            let v = a + (b - a) * t;
            if r.log {
                // Round to 12 significant digits so that 1e-4 from a range equals 1e-4 in a list.
                let p = 10f64.powf(v);
                format!("{p:.11e}").parse().unwrap_or(p)
            } else {
                v
            }
        })
        .collect())
}

struct IntListVisitor;

impl<'de> Visitor<'de> for IntListVisitor {
    type Value = Vec<u64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a list of non-negative integers, or a range `{ from = .., to = .., step = .. }`",
        )
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<u64>()? {
            out.push(v);
        }
        Ok(out)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        int_range(IntRange::deserialize(
            de::value::MapAccessDeserializer::new(map),
        )?)
    }
}

impl<'de> Deserialize<'de> for IntList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(IntListVisitor).map(IntList)
    }
}

struct FloatListVisitor;

impl<'de> Visitor<'de> for FloatListVisitor {
    type Value = Vec<f64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(
            "a list of numbers, or a range `{ from = .., to = .., num = .., log = true|false }`",
        )
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element::<f64>()? {
            out.push(v);
        }
        Ok(out)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        float_range(FloatRange::deserialize(
            de::value::MapAccessDeserializer::new(map),
        )?)
    }
}

impl<'de> Deserialize<'de> for FloatList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(FloatListVisitor).map(FloatList)
    }
}

struct SeedsVisitor;

impl<'de> Visitor<'de> for SeedsVisitor {
    type Value = Vec<u64>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number of seeds (`seeds = 30`), a list of seeds, or a range `{ from = .., to = .. }`")
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        if !(1..=1_000_000).contains(&n) {
            return Err(E::custom(format!(
                "a seed count must be between 1 and 1000000, got {n}"
            )));
        }
        Ok((0..n as u64).collect())
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        self.visit_i64(n.min(i64::MAX as u64) as i64)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        IntListVisitor.visit_seq(seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        IntListVisitor.visit_map(map)
    }
}

impl<'de> Deserialize<'de> for Seeds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SeedsVisitor).map(Seeds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct T {
        i: IntList,
        f: FloatList,
        s: Seeds,
    }

    fn parse(text: &str) -> Result<T, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    #[test]
    fn lists_and_ranges() {
        let t = parse("i = { from = 64, to = 256, step = 64 }\nf = { from = 1e-5, to = 1e-2, num = 4, log = true }\ns = 3").unwrap();
        assert_eq!(t.i.0, vec![64, 128, 192, 256]);
        assert_eq!(t.f.0, vec![1e-5, 1e-4, 1e-3, 1e-2]);
        assert_eq!(t.s.0, vec![0, 1, 2]);
        let t = parse("i = [1, 2]\nf = [0.5, 1]\ns = [7, 9]").unwrap();
        assert_eq!(
            (t.i.0, t.f.0, t.s.0),
            (vec![1, 2], vec![0.5, 1.0], vec![7, 9])
        );
    }

    #[test]
    fn bad_ranges_say_why() {
        assert!(parse("i = { from = 5, to = 1 }\nf = [1]\ns = 1")
            .unwrap_err()
            .contains("below"));
        assert!(parse("i = [1]\nf = [1]\ns = 0")
            .unwrap_err()
            .contains("between 1"));
        assert!(
            parse("i = [1]\nf = { from = 0, to = 1, num = 3, log = true }\ns = 1")
                .unwrap_err()
                .contains("above 0")
        );
        assert!(parse("i = [-1]\nf = [1]\ns = 1").is_err());
    }
}
