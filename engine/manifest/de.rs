//! A serde deserializer over the parsed TOML tree that knows, for every value, its span and its
//! path, so an error anywhere (an analysis table, an inline table, a list element) points at the
//! key or value that caused it.
//!
//! Its error type keeps what serde reports in structured form (an unknown key or value with the
//! names serde expected, a missing key, a value of the wrong type), which gives every struct and
//! enum of the manifest "did you mean" without listing their names here. Internally tagged enums
//! (`task`, `[[study.analysis]]`) are buffered by serde before their fields are read, so an error
//! in one of their fields surfaces at the whole table: an unknown key is found again by its
//! name; other errors are marked `unresolved` for `recover` to pin on a key.

use super::path::Path;
use super::suggest::{nearest, one_of};
use serde::de::value::{MapAccessDeserializer, StrDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use std::fmt::Display;
use std::ops::Range;
use toml::de::{DeString, DeTable, DeValue, ValueDeserializer};
use toml::Spanned;

/// What serde found wrong, kept apart from the message where callers act on it.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// The key written, and the known key it is probably a misspelling of.
    UnknownField(String, Option<&'static str>),
    UnknownVariant(String),
    MissingField(&'static str),
    /// A value of the wrong type or out of the type's range.
    Invalid,
    Other,
}

/// Where an error was found.
#[derive(Clone, Debug, PartialEq)]
pub struct At {
    pub span: Range<usize>,
    pub path: Path,
    /// Raised by a table as a whole for one of its values that serde no longer knows the key of.
    pub unresolved: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DeError {
    pub kind: Kind,
    pub message: String,
    pub at: Option<At>,
}

impl DeError {
    fn new(kind: Kind, message: String) -> Self {
        DeError {
            kind,
            message,
            at: None,
        }
    }

    pub fn located(mut self, span: Range<usize>, path: Path, unresolved: bool) -> Self {
        if self.at.is_none() {
            self.at = Some(At {
                span,
                path,
                unresolved,
            });
        }
        self
    }
}

impl Display for DeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for DeError {}

fn unknown(what: &str, name: &str, expected: &[&str], hint: Option<&str>, none: &str) -> String {
    let hint = hint.map_or(String::new(), |n| format!("; did you mean `{n}`?"));
    format!(
        "unknown {what} `{name}`, expected {}{hint}",
        one_of(expected, none)
    )
}

impl de::Error for DeError {
    fn custom<T: Display>(msg: T) -> Self {
        DeError::new(Kind::Other, msg.to_string())
    }
    fn invalid_type(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        DeError::new(
            Kind::Invalid,
            format!("invalid type: {unexp}, expected {exp}"),
        )
    }
    fn invalid_value(unexp: de::Unexpected, exp: &dyn de::Expected) -> Self {
        DeError::new(
            Kind::Invalid,
            format!("invalid value: {unexp}, expected {exp}"),
        )
    }
    fn invalid_length(len: usize, exp: &dyn de::Expected) -> Self {
        DeError::new(
            Kind::Invalid,
            format!("invalid length {len}, expected {exp}"),
        )
    }
    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        let hint = nearest(variant, expected);
        let message = unknown("variant", variant, expected, hint, "there are no variants");
        DeError::new(Kind::UnknownVariant(variant.to_string()), message)
    }
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        let hint = nearest(field, expected);
        let message = unknown("field", field, expected, hint, "there are no fields");
        DeError::new(Kind::UnknownField(field.to_string(), hint), message)
    }
    fn missing_field(field: &'static str) -> Self {
        DeError::new(
            Kind::MissingField(field),
            format!("missing field `{field}`"),
        )
    }
}

/// Deserializes `value`, found at `path`, as a `T`; every error comes out located.
pub fn read<T: DeserializeOwned>(value: &Spanned<DeValue<'_>>, path: &Path) -> Result<T, DeError> {
    T::deserialize(Node::new(value, path.clone()))
        .map_err(|e| Node::new(value, path.clone()).locate(e))
}

/// One value of the tree and where it is.
pub struct Node<'a, 'de> {
    pub value: &'a Spanned<DeValue<'de>>,
    pub path: Path,
}

impl<'a, 'de> Node<'a, 'de> {
    pub fn new(value: &'a Spanned<DeValue<'de>>, path: Path) -> Self {
        Node { value, path }
    }

    /// Places an error raised while reading this value, unless a value inside placed it.
    fn locate(&self, e: DeError) -> DeError {
        match self.value.get_ref() {
            _ if e.at.is_some() => e,
            DeValue::Table(table) => self.locate_in_table(table, e),
            _ => e.located(self.value.span(), self.path.clone(), false),
        }
    }

    /// An error a table raised as a whole: pinned on a key when serde named the key or the value.
    fn locate_in_table(&self, table: &DeTable<'de>, e: DeError) -> DeError {
        let by_key = |k: &str| table.get_key_value(k);
        let key = match &e.kind {
            Kind::UnknownField(f, _) => by_key(f).map(|(k, _)| (k.span(), f.clone())),
            Kind::UnknownVariant(v) => table
                .iter()
                .find(|(_, val)| val.get_ref().as_str() == Some(v.as_str()))
                .map(|(k, val)| (val.span(), k.get_ref().to_string())),
            _ => None,
        };
        match key {
            Some((span, k)) => e.located(span, self.path.key(&k), false),
            None => {
                let unresolved = e.kind == Kind::Invalid;
                e.located(self.value.span(), self.path.clone(), unresolved)
            }
        }
    }

    fn scalar(&self) -> ValueDeserializer<'de> {
        ValueDeserializer::from(self.value.clone())
    }
}

fn from_toml(e: toml::de::Error) -> DeError {
    DeError::new(Kind::Other, e.message().trim().to_string())
}

impl<'de> IntoDeserializer<'de, DeError> for Node<'_, 'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for Node<'_, 'de> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let result = match self.value.get_ref() {
            DeValue::String(s) => visitor.visit_str(s),
            DeValue::Boolean(b) => visitor.visit_bool(*b),
            DeValue::Array(items) => visitor.visit_seq(Items {
                items: items.iter().enumerate(),
                path: &self.path,
            }),
            DeValue::Table(table) => visitor.visit_map(Entries::new(table, &self.path)),
            _ => self.scalar().deserialize_any(visitor).map_err(from_toml),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        if serde_spanned::de::is_spanned(name) {
            let span = self.value.span();
            return visitor.visit_map(serde_spanned::de::SpannedDeserializer::new(self, span));
        }
        self.deserialize_any(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let result = match self.value.get_ref() {
            DeValue::String(s) => visitor.visit_enum(StrDeserializer::<DeError>::new(s)),
            DeValue::Table(table) => {
                visitor.visit_enum(MapAccessDeserializer::new(Entries::new(table, &self.path)))
            }
            _ => return self.deserialize_any(visitor),
        };
        result.map_err(|e| self.locate(e))
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map identifier
    }
}

/// The elements of an array, each with its index in the path.
struct Items<'a, 'de> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Spanned<DeValue<'de>>>>,
    path: &'a Path,
}

impl<'de> SeqAccess<'de> for Items<'_, 'de> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            None => Ok(None),
            Some((i, v)) => {
                let node = Node::new(v, self.path.index(i));
                let place = Node::new(v, node.path.clone());
                seed.deserialize(node)
                    .map(Some)
                    .map_err(|e| place.locate(e))
            }
        }
    }
}

/// The entries of a table; a key serde rejects is reported at the key.
struct Entries<'a, 'de> {
    entries: toml::map::Iter<'a, Spanned<DeString<'de>>, Spanned<DeValue<'de>>>,
    value: Option<&'a Spanned<DeValue<'de>>>,
    key: String,
    path: &'a Path,
}

impl<'a, 'de> Entries<'a, 'de> {
    fn new(table: &'a DeTable<'de>, path: &'a Path) -> Self {
        Entries {
            entries: table.iter(),
            value: None,
            key: String::new(),
            path,
        }
    }
}

impl<'de> MapAccess<'de> for Entries<'_, 'de> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        self.value = Some(value);
        self.key = key.get_ref().to_string();
        seed.deserialize(StrDeserializer::<DeError>::new(key.get_ref()))
            .map(Some)
            .map_err(|e| e.located(key.span(), self.path.key(&self.key), false))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let value = self
            .value
            .take()
            .ok_or_else(|| de::Error::custom("a value was read before its key"))?;
        let node = Node::new(value, self.path.key(&self.key));
        let place = Node::new(value, node.path.clone());
        seed.deserialize(node).map_err(|e| place.locate(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        list: Vec<Inner>,
        tagged: Option<Tagged>,
        spanned: Option<Spanned<u64>>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        n: u64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
    #[allow(dead_code)]
    enum Tagged {
        One { x: f64 },
        Two { y: u64 },
    }

    fn tree(text: &str) -> Spanned<DeValue<'_>> {
        let t = DeTable::parse(text).unwrap();
        Spanned::new(t.span(), DeValue::Table(t.into_inner()))
    }

    fn err(text: &str) -> (String, String, String) {
        let tree = tree(text);
        let e = Outer::deserialize(Node::new(&tree, Path::default())).unwrap_err();
        let at = e.at.unwrap();
        (at.path.to_string(), text[at.span].to_string(), e.message)
    }

    #[test]
    fn errors_point_into_lists_of_tables() {
        let text = "list = [{ n = 1 }, { n = 2 }, { n = 'x' }]";
        let (path, at, msg) = err(text);
        assert_eq!((path.as_str(), at.as_str()), ("list[2].n", "'x'"));
        assert!(msg.contains("invalid type: string \"x\""), "{msg}");
    }

    #[test]
    fn unknown_keys_are_found_by_name_with_a_suggestion() {
        let (path, at, msg) = err("list = [{ m = 1 }]");
        assert_eq!((path.as_str(), at.as_str()), ("list[0].m", "m"));
        assert!(msg.contains("did you mean `n`?"), "{msg}");
        let (path, at, msg) = err("list = []\ntagged = { kind = 'one', xx = 1.0 }");
        assert_eq!((path.as_str(), at.as_str()), ("tagged.xx", "xx"));
        assert!(msg.contains("did you mean `x`?"), "{msg}");
    }

    #[test]
    fn unknown_tags_are_found_by_value() {
        let (path, at, msg) = err("list = []\ntagged = { kind = 'tow', y = 1 }");
        assert_eq!((path.as_str(), at.as_str()), ("tagged.kind", "'tow'"));
        assert!(msg.contains("did you mean `two`?"), "{msg}");
    }

    #[test]
    fn wrong_types_inside_tagged_tables_are_left_to_the_caller() {
        let tree = tree("list = []\ntagged = { kind = 'two', y = 1.5 }");
        let e = Outer::deserialize(Node::new(&tree, Path::default())).unwrap_err();
        let at = e.at.unwrap();
        assert!(at.unresolved);
        assert_eq!(at.path.to_string(), "tagged");
    }

    #[test]
    fn spanned_values_keep_their_span() {
        let text = "list = []\nspanned = 42";
        let tree = tree(text);
        let o = Outer::deserialize(Node::new(&tree, Path::default())).unwrap();
        let s = o.spanned.unwrap();
        assert_eq!((&text[s.span()], *s.get_ref()), ("42", 42));
    }
}
