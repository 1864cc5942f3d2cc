//! `Table` ↔ Parquet: the only code in census that names arrow or parquet types.
//!
//! Column mapping, declared once here for writing and reading (the README documents it):
//!
//! | `Column`  | Arrow / Parquet                          |
//! |-----------|------------------------------------------|
//! | `Bool`    | `Boolean`                                |
//! | `I64`     | `Int64`                                  |
//! | `F32`     | `Float32`                                |
//! | `F64`     | `Float64`                                |
//! | `OptF64`  | `Float64`, nullable                      |
//! | `Str`     | `Utf8`                                   |
//! | `ListF32` | `List<Float32>` (items non-nullable)     |
//!
//! Every field but `OptF64`'s is non-nullable; column order and names are kept. Files are snappy-compressed and
//! carry the Arrow schema, so a table of zero rows reads back with its columns and types.
//!
//! Writing converts the table a slice of rows at a time (about `BATCH_BYTES` of values), so a
//! large table never exists twice in memory; the writer closes a row group every `GROUP_ROWS`
//! rows or `GROUP_BYTES` encoded bytes, whichever comes first.
//!
//! `write_table_file` / `read_table_file` are what `export` uses: the file appears whole or not
//! at all (written as `.<name>.<unique>.tmp` in the target folder, synced, renamed).

use std::fs::{self, File};
use std::io::Write;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{Float32Builder, ListBuilder};
use arrow_array::cast::AsArray;
use arrow_array::types::{Float32Type, Float64Type, Int64Type};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int64Array, RecordBatch,
    RecordBatchOptions, StringArray,
};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use parquet::file::reader::ChunkReader;

use super::durable::{io_error, split, sync_dir, unique, HashingWriter};
use super::StoreError;
use crate::table::{Column, Table};

const BATCH_BYTES: usize = 8 << 20;
const MAX_BATCH_ROWS: usize = 1 << 16;
const GROUP_ROWS: usize = 1 << 20;
const GROUP_BYTES: usize = 128 << 20;
const READ_BATCH_ROWS: usize = 1 << 16;

fn item_field() -> Arc<Field> {
    Arc::new(Field::new("item", DataType::Float32, false))
}

fn arrow_type(column: &Column) -> DataType {
    match column {
        Column::Bool(_) => DataType::Boolean,
        Column::I64(_) => DataType::Int64,
        Column::F32(_) => DataType::Float32,
        Column::F64(_) | Column::OptF64(_) => DataType::Float64,
        Column::Str(_) => DataType::Utf8,
        Column::ListF32(_) => DataType::List(item_field()),
    }
}

fn schema_of(table: &Table) -> Schema {
    Schema::new(
        table
            .columns()
            .iter()
            .map(|(name, c)| Field::new(name, arrow_type(c), matches!(c, Column::OptF64(_))))
            .collect::<Vec<_>>(),
    )
}

fn to_array(column: &Column, rows: Range<usize>) -> ArrayRef {
    match column {
        Column::Bool(v) => Arc::new(BooleanArray::from(v[rows].to_vec())),
        Column::I64(v) => Arc::new(Int64Array::from(v[rows].to_vec())),
        Column::F32(v) => Arc::new(Float32Array::from(v[rows].to_vec())),
        Column::F64(v) => Arc::new(Float64Array::from(v[rows].to_vec())),
        Column::OptF64(v) => Arc::new(Float64Array::from(v[rows].to_vec())),
        Column::Str(v) => Arc::new(StringArray::from_iter_values(&v[rows])),
        Column::ListF32(v) => {
            let v = &v[rows];
            let items = v.iter().map(Vec::len).sum();
            let mut b = ListBuilder::with_capacity(Float32Builder::with_capacity(items), v.len())
                .with_field(item_field());
            for row in v {
                b.values().append_slice(row);
                b.append(true);
            }
            Arc::new(b.finish())
        }
    }
}

/// Bytes of values in `column`, to size the batches a table is written in.
fn value_bytes(column: &Column) -> usize {
    match column {
        Column::Bool(v) => v.len(),
        Column::I64(v) => 8 * v.len(),
        Column::F32(v) => 4 * v.len(),
        Column::F64(v) => 8 * v.len(),
        Column::OptF64(v) => 8 * v.len(),
        Column::Str(v) => v.iter().map(|s| s.len() + 4).sum(),
        Column::ListF32(v) => v.iter().map(|l| 4 * l.len() + 4).sum(),
    }
}

fn rows_per_batch(table: &Table) -> usize {
    let rows = table.num_rows();
    let bytes: usize = table.columns().iter().map(|(_, c)| value_bytes(c)).sum();
    let fit = (BATCH_BYTES as u128 * rows as u128 / bytes.max(1) as u128) as usize;
    fit.clamp(1, MAX_BATCH_ROWS)
}

fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(GROUP_ROWS))
        .set_max_row_group_bytes(Some(GROUP_BYTES))
        .build()
}

/// Writes `table` as a complete Parquet file into `out` and returns `out`.
pub(super) fn encode<W: Write + Send>(table: &Table, out: W) -> Result<W, ParquetError> {
    let schema = Arc::new(schema_of(table));
    let mut writer = ArrowWriter::try_new(out, schema.clone(), Some(properties()))?;
    let rows = table.num_rows();
    let step = rows_per_batch(table);
    let mut start = 0;
    while start < rows {
        let end = (start + step).min(rows);
        let arrays = table
            .columns()
            .iter()
            .map(|(_, c)| to_array(c, start..end))
            .collect::<Vec<_>>();
        let options = RecordBatchOptions::new().with_row_count(Some(end - start));
        writer.write(&RecordBatch::try_new_with_options(
            schema.clone(),
            arrays,
            &options,
        )?)?;
        start = end;
    }
    writer.into_inner()
}

/// An empty column for a field of the mapping above, or why the field is not one.
fn empty_column(field: &Field) -> Result<Column, String> {
    Ok(match field.data_type() {
        DataType::Boolean => Column::Bool(Vec::new()),
        DataType::Int64 => Column::I64(Vec::new()),
        DataType::Float32 => Column::F32(Vec::new()),
        DataType::Float64 if field.is_nullable() => Column::OptF64(Vec::new()),
        DataType::Float64 => Column::F64(Vec::new()),
        DataType::Utf8 => Column::Str(Vec::new()),
        DataType::List(item) if item.data_type() == &DataType::Float32 => {
            Column::ListF32(Vec::new())
        }
        other => {
            return Err(format!(
                "column `{}` has type {other}; census reads Boolean, Int64, Float32, Float64, \
                 Utf8 and List<Float32>",
                field.name()
            ))
        }
    })
}

/// Appends `array` (of the type `column` was made for) to `column`.
fn append(column: &mut Column, array: &dyn Array, name: &str) -> Option<Result<(), String>> {
    if array.null_count() > 0 && !matches!(column, Column::OptF64(_)) {
        return Some(Err(format!("column `{name}` holds nulls")));
    }
    match column {
        Column::Bool(v) => v.extend(array.as_boolean_opt()?.values().iter()),
        Column::I64(v) => v.extend_from_slice(array.as_primitive_opt::<Int64Type>()?.values()),
        Column::F32(v) => v.extend_from_slice(array.as_primitive_opt::<Float32Type>()?.values()),
        Column::F64(v) => v.extend_from_slice(array.as_primitive_opt::<Float64Type>()?.values()),
        Column::OptF64(v) => v.extend(array.as_primitive_opt::<Float64Type>()?.iter()),
        Column::Str(v) => v.extend(
            array
                .as_string_opt::<i32>()?
                .iter()
                .flatten()
                .map(String::from),
        ),
        Column::ListF32(v) => {
            let list = array.as_list_opt::<i32>()?;
            if list.values().null_count() > 0 {
                return Some(Err(format!("column `{name}` holds null list items")));
            }
            let items = list.values().as_primitive_opt::<Float32Type>()?.values();
            for w in list.value_offsets().windows(2) {
                v.push(items.get(w[0] as usize..w[1] as usize)?.to_vec());
            }
        }
    }
    Some(Ok(()))
}

/// Reads a whole Parquet file into a `Table`; the error says what is wrong with it.
///
/// A panic inside the Parquet decoder (possible on crafted input) is reported as an error:
/// a damaged file must never bring the engine down.
pub(super) fn decode<R: ChunkReader + 'static>(input: R) -> Result<Table, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| decode_unguarded(input)))
        .unwrap_or_else(|_| Err("the Parquet decoder failed on this file".to_string()))
}

fn decode_unguarded<R: ChunkReader + 'static>(input: R) -> Result<Table, String> {
    let builder = ParquetRecordBatchReaderBuilder::try_new(input).map_err(|e| e.to_string())?;
    let fields = builder.schema().fields().clone();
    let mut columns = fields
        .iter()
        .map(|f| empty_column(f))
        .collect::<Result<Vec<_>, _>>()?;
    let reader = builder
        .with_batch_size(READ_BATCH_ROWS)
        .build()
        .map_err(|e| e.to_string())?;
    for batch in reader {
        let batch = batch.map_err(|e| e.to_string())?;
        for ((column, field), array) in columns.iter_mut().zip(&fields).zip(batch.columns()) {
            append(column, array.as_ref(), field.name()).unwrap_or_else(|| {
                Err(format!(
                    "column `{}` does not hold the {} data its schema declares",
                    field.name(),
                    column.type_name()
                ))
            })?;
        }
    }
    let mut table = Table::new();
    for (field, column) in fields.iter().zip(columns) {
        table
            .push(field.name(), column)
            .map_err(|e| e.to_string())?;
    }
    Ok(table)
}

/// Writes `table` to `path` (creating its folder), atomically: readers of `path` see the old
/// file or the complete new one.
pub fn write_table_file(path: &Path, table: &Table) -> Result<(), StoreError> {
    let (dir, name) = split(path);
    fs::create_dir_all(dir).map_err(|e| io_error(dir, "create folder", e))?;
    let tmp = dir.join(format!(".{name}.{}.tmp", unique()));
    let result = write_new(&tmp, table, path).and_then(|()| {
        fs::rename(&tmp, path).map_err(|e| io_error(path, "rename into place", e))?;
        sync_dir(dir)
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Encodes `table` into a new synced file at `tmp`; errors name `target`, the file the user
/// asked for.
fn write_new(tmp: &Path, table: &Table, target: &Path) -> Result<(), StoreError> {
    let file = File::create(tmp).map_err(|e| io_error(tmp, "create", e))?;
    let mut out = HashingWriter::new(file);
    let file = match encode(table, &mut out) {
        Ok(_) => out.finish().0,
        Err(e) => {
            return Err(match out.take_error() {
                Some(io) => io_error(target, "write", io),
                None => StoreError::WriteFile {
                    path: target.display().to_string(),
                    message: e.to_string(),
                },
            })
        }
    };
    file.sync_all().map_err(|e| io_error(target, "sync", e))
}

pub fn read_table_file(path: &Path) -> Result<Table, StoreError> {
    let file = File::open(path).map_err(|e| io_error(path, "open", e))?;
    decode(file).map_err(|message| StoreError::ReadFile {
        path: path.display().to_string(),
        message,
    })
}
