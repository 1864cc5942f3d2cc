//! Tables: the one value every task produces and every export writes.
//!
//! A `Table` is a list of named, typed, equally long columns. It is the engine's own type so that
//! the core (planning, tasks, numerics) never names arrow or parquet: only `store` converts it.
//! Column types are the ones SPEC §7 needs: integers, floats (one nullable kind, for values that
//! do not exist, such as a diverged network's loss), strings, booleans, and `list<float32>` where
//! a vector is the observation.

use std::collections::BTreeMap;

/// One typed column.
#[derive(Clone, Debug, PartialEq)]
pub enum Column {
    Bool(Vec<bool>),
    I64(Vec<i64>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    /// `float64` where a value may be absent (a diverged network's loss): Parquet nulls.
    OptF64(Vec<Option<f64>>),
    Str(Vec<String>),
    ListF32(Vec<Vec<f32>>),
}

impl Column {
    pub fn len(&self) -> usize {
        match self {
            Column::Bool(v) => v.len(),
            Column::I64(v) => v.len(),
            Column::F32(v) => v.len(),
            Column::F64(v) => v.len(),
            Column::OptF64(v) => v.len(),
            Column::Str(v) => v.len(),
            Column::ListF32(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The type's name as the README documents it.
    pub fn type_name(&self) -> &'static str {
        match self {
            Column::Bool(_) => "bool",
            Column::I64(_) => "int64",
            Column::F32(_) => "float32",
            Column::F64(_) => "float64",
            Column::OptF64(_) => "float64 (nullable)",
            Column::Str(_) => "string",
            Column::ListF32(_) => "list<float32>",
        }
    }

    /// An empty column of the same type.
    pub fn empty_like(&self) -> Column {
        match self {
            Column::Bool(_) => Column::Bool(Vec::new()),
            Column::I64(_) => Column::I64(Vec::new()),
            Column::F32(_) => Column::F32(Vec::new()),
            Column::F64(_) => Column::F64(Vec::new()),
            Column::OptF64(_) => Column::OptF64(Vec::new()),
            Column::Str(_) => Column::Str(Vec::new()),
            Column::ListF32(_) => Column::ListF32(Vec::new()),
        }
    }

    /// Appends `other`, which must have the same type.
    pub fn extend(&mut self, other: &Column) -> Result<(), TableError> {
        match (self, other) {
            (Column::Bool(a), Column::Bool(b)) => a.extend_from_slice(b),
            (Column::I64(a), Column::I64(b)) => a.extend_from_slice(b),
            (Column::F32(a), Column::F32(b)) => a.extend_from_slice(b),
            (Column::F64(a), Column::F64(b)) => a.extend_from_slice(b),
            (Column::OptF64(a), Column::OptF64(b)) => a.extend_from_slice(b),
            (Column::Str(a), Column::Str(b)) => a.extend_from_slice(b),
            (Column::ListF32(a), Column::ListF32(b)) => a.extend_from_slice(b),
            (a, b) => {
                return Err(TableError::TypeMismatch {
                    column: String::new(),
                    expected: a.type_name(),
                    found: b.type_name(),
                })
            }
        }
        Ok(())
    }

    /// The rows at `rows`, in that order.
    pub fn take(&self, rows: &[usize]) -> Column {
        fn pick<T: Clone>(v: &[T], rows: &[usize]) -> Vec<T> {
            rows.iter().map(|&i| v[i].clone()).collect()
        }
        match self {
            Column::Bool(v) => Column::Bool(pick(v, rows)),
            Column::I64(v) => Column::I64(pick(v, rows)),
            Column::F32(v) => Column::F32(pick(v, rows)),
            Column::F64(v) => Column::F64(pick(v, rows)),
            Column::OptF64(v) => Column::OptF64(pick(v, rows)),
            Column::Str(v) => Column::Str(pick(v, rows)),
            Column::ListF32(v) => Column::ListF32(pick(v, rows)),
        }
    }

    /// A column of `n` copies of row `i` of this one.
    pub fn repeat_row(&self, i: usize, n: usize) -> Column {
        match self {
            Column::Bool(v) => Column::Bool(vec![v[i]; n]),
            Column::I64(v) => Column::I64(vec![v[i]; n]),
            Column::F32(v) => Column::F32(vec![v[i]; n]),
            Column::F64(v) => Column::F64(vec![v[i]; n]),
            Column::OptF64(v) => Column::OptF64(vec![v[i]; n]),
            Column::Str(v) => Column::Str(vec![v[i].clone(); n]),
            Column::ListF32(v) => Column::ListF32(vec![v[i].clone(); n]),
        }
    }
}

/// Errors a caller acts on when it reads a column it expects.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TableError {
    #[error("table has no column `{0}`")]
    Missing(String),
    #[error("column `{column}` is {found}, expected {expected}")]
    TypeMismatch {
        column: String,
        expected: &'static str,
        found: &'static str,
    },
    #[error("column `{column}` has {found} rows, the table has {expected}")]
    Length {
        column: String,
        expected: usize,
        found: usize,
    },
}

/// Named columns of equal length, in a fixed order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Table {
    columns: Vec<(String, Column)>,
}

macro_rules! typed_getter {
    ($name:ident, $variant:ident, $ty:ty, $tyname:expr) => {
        pub fn $name(&self, column: &str) -> Result<&[$ty], TableError> {
            match self.column(column)? {
                Column::$variant(v) => Ok(v),
                other => Err(TableError::TypeMismatch {
                    column: column.to_string(),
                    expected: $tyname,
                    found: other.type_name(),
                }),
            }
        }
    };
}

impl Table {
    pub fn new() -> Table {
        Table::default()
    }

    /// Adds a column; builder style. Panics on a length mismatch, which is a bug in the caller.
    pub fn with(mut self, name: &str, column: Column) -> Table {
        self.push(name, column)
            .expect("column length matches the table");
        self
    }

    pub fn push(&mut self, name: &str, column: Column) -> Result<(), TableError> {
        if let Some((_, first)) = self.columns.first() {
            if first.len() != column.len() {
                return Err(TableError::Length {
                    column: name.to_string(),
                    expected: first.len(),
                    found: column.len(),
                });
            }
        }
        self.columns.push((name.to_string(), column));
        Ok(())
    }

    pub fn num_rows(&self) -> usize {
        self.columns.first().map_or(0, |(_, c)| c.len())
    }

    pub fn columns(&self) -> &[(String, Column)] {
        &self.columns
    }

    pub fn column(&self, name: &str) -> Result<&Column, TableError> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, c)| c)
            .ok_or_else(|| TableError::Missing(name.to_string()))
    }

    typed_getter!(bools, Bool, bool, "bool");
    typed_getter!(i64s, I64, i64, "int64");
    typed_getter!(f32s, F32, f32, "float32");
    typed_getter!(f64s, F64, f64, "float64");
    typed_getter!(opt_f64s, OptF64, Option<f64>, "float64 (nullable)");
    typed_getter!(strs, Str, String, "string");
    typed_getter!(lists, ListF32, Vec<f32>, "list<float32>");

    /// Appends the rows of `other`, whose columns must have the same names and types in order.
    pub fn append(&mut self, other: &Table) -> Result<(), TableError> {
        if self.columns.is_empty() {
            *self = other.clone();
            return Ok(());
        }
        if other.columns.is_empty() {
            return Ok(());
        }
        for ((name, a), (other_name, b)) in self.columns.iter_mut().zip(&other.columns) {
            if name != other_name {
                return Err(TableError::Missing(name.clone()));
            }
            a.extend(b).map_err(|e| match e {
                TableError::TypeMismatch {
                    expected, found, ..
                } => TableError::TypeMismatch {
                    column: name.clone(),
                    expected,
                    found,
                },
                e => e,
            })?;
        }
        Ok(())
    }

    /// This table with column `name` replaced by `column` (same length), in place.
    pub fn replace(&self, name: &str, column: Column) -> Table {
        let mut out = self.clone();
        if let Some((_, c)) = out.columns.iter_mut().find(|(n, _)| n == name) {
            *c = column;
        }
        out
    }

    /// Inserts `columns` (as long as this table) right after the column `after`, skipping any
    /// this table already has.
    pub fn insert_after(&self, after: &str, columns: Vec<(String, Column)>) -> Table {
        let mut out = Table::new();
        for (name, c) in &self.columns {
            out.columns.push((name.clone(), c.clone()));
            if name == after {
                for (name, c) in &columns {
                    if self.column(name).is_err() {
                        out.columns.push((name.clone(), c.clone()));
                    }
                }
            }
        }
        out
    }

    /// Puts `columns` (each of one row) in front, repeated for every row: how export adds the
    /// configuration columns a user groups by.
    pub fn prepend_constant(&self, columns: &Table) -> Table {
        let n = self.num_rows();
        let mut out = Table::new();
        for (name, c) in &columns.columns {
            if self.column(name).is_err() {
                out.columns.push((name.clone(), c.repeat_row(0, n)));
            }
        }
        out.columns.extend(self.columns.iter().cloned());
        out
    }
}

/// A few short facts about an output, stored beside its tables (in the cache entry's
/// metadata and the quick-check index) so commands that need only them (the population
/// count after `apply`) read no table.
pub type Summary = BTreeMap<String, String>;

/// What one task produces: named tables, and optionally a summary of them. A task that
/// produces one table names it after itself.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Output {
    pub tables: BTreeMap<String, Table>,
    pub summary: Summary,
}

impl Output {
    pub fn new() -> Output {
        Output::default()
    }

    pub fn with(mut self, name: &str, table: Table) -> Output {
        self.tables.insert(name.to_string(), table);
        self
    }

    pub fn with_summary(mut self, summary: Summary) -> Output {
        self.summary = summary;
        self
    }

    pub fn table(&self, name: &str) -> Result<&Table, TableError> {
        self.tables
            .get(name)
            .ok_or_else(|| TableError::Missing(format!("table {name}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_checks_types_and_prepend_repeats() {
        let mut a = Table::new().with("x", Column::F64(vec![1.0]));
        a.append(&Table::new().with("x", Column::F64(vec![2.0])))
            .unwrap();
        assert_eq!(a.f64s("x").unwrap(), &[1.0, 2.0]);
        let bad = Table::new().with("x", Column::I64(vec![2]));
        assert!(matches!(
            a.append(&bad),
            Err(TableError::TypeMismatch { .. })
        ));
        let keyed = a.prepend_constant(&Table::new().with("id", Column::Str(vec!["n".into()])));
        assert_eq!(keyed.strs("id").unwrap(), &["n", "n"]);
        assert_eq!(keyed.columns()[1].0, "x");
    }
}
