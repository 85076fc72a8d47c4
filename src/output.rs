//! Writing query results: a pretty table for people, CSV / JSON / Parquet for programs.

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::array::{Array, ArrayRef};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Field, FieldRef, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use clap::ValueEnum;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    /// Aligned text table.
    #[default]
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
    /// Newline-delimited JSON, one object per row.
    Ndjson,
    /// Apache Parquet (needs --output).
    Parquet,
}

/// Writes `batches` to `output` (a file) or to stdout.
pub fn write(
    batches: &[RecordBatch],
    schema: SchemaRef,
    format: Format,
    output: Option<&Path>,
) -> Result<()> {
    match output {
        Some(path) => {
            let file =
                File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
            write_to(batches, schema, format, file)
        }
        None if format == Format::Parquet => bail!("--format parquet needs --output FILE"),
        None => write_to(
            batches,
            schema,
            format,
            std::io::BufWriter::new(std::io::stdout()),
        ),
    }
}

pub fn write_to<W: Write + Send>(
    batches: &[RecordBatch],
    schema: SchemaRef,
    format: Format,
    mut out: W,
) -> Result<()> {
    match format {
        Format::Table => {
            let text = arrow::util::pretty::pretty_format_batches(batches)?;
            writeln!(out, "{text}")?;
            let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
            writeln!(out, "{rows} row{}", if rows == 1 { "" } else { "s" })?;
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            for b in batches {
                w.write(&plain_types(b)?)?;
            }
        }
        Format::Json => {
            let mut w = arrow::json::ArrayWriter::new(out);
            for b in batches {
                w.write(&plain_types(b)?)?;
            }
            w.finish()?;
            writeln!(w.into_inner())?;
        }
        Format::Ndjson => {
            let mut w = arrow::json::LineDelimitedWriter::new(out);
            for b in batches {
                w.write(&plain_types(b)?)?;
            }
            w.finish()?;
        }
        Format::Parquet => {
            let schema = plain_schema(&schema);
            let mut w = parquet::arrow::ArrowWriter::try_new(out, schema, None)?;
            for b in batches {
                w.write(&plain_types(b)?)?;
            }
            w.close()?;
        }
    }
    Ok(())
}

/// View types (Utf8View, BinaryView) as their classic forms and dictionaries as their values, at
/// every nesting depth: the widest reader support (the Flight SQL JDBC driver reads neither).
pub fn plain_type(t: &DataType) -> DataType {
    let field =
        |f: &FieldRef| Arc::new(f.as_ref().clone().with_data_type(plain_type(f.data_type())));
    match t {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::Dictionary(_, values) => plain_type(values),
        DataType::List(f) => DataType::List(field(f)),
        DataType::LargeList(f) => DataType::LargeList(field(f)),
        DataType::FixedSizeList(f, n) => DataType::FixedSizeList(field(f), *n),
        DataType::Struct(fields) => DataType::Struct(fields.iter().map(field).collect()),
        DataType::Map(f, sorted) => DataType::Map(field(f), *sorted),
        other => other.clone(),
    }
}

/// Whether `t` holds no view type and no dictionary at any depth (what [`plain_type`] gives).
pub fn is_plain(t: &DataType) -> bool {
    match t {
        DataType::Utf8View | DataType::BinaryView | DataType::Dictionary(..) => false,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            is_plain(f.data_type())
        }
        DataType::Map(f, _) => is_plain(f.data_type()),
        DataType::Struct(fields) => fields.iter().all(|f| is_plain(f.data_type())),
        _ => true,
    }
}

pub fn plain_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_data_type(plain_type(f.data_type())))
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

pub fn plain_types(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = plain_schema(&batch.schema());
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| {
            let target = plain_type(c.data_type());
            if &target == c.data_type() {
                Ok(c.clone())
            } else {
                cast(c.as_ref(), &target)
            }
        })
        .collect::<Result<_, _>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringViewArray};

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("msisdn", DataType::Utf8View, false),
            Field::new("calls", DataType::Int64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringViewArray::from(vec![
                    "+212612345678",
                    "+212661234567",
                ])),
                Arc::new(Int64Array::from(vec![3, 5])),
            ],
        )
        .unwrap()
    }

    fn render(format: Format) -> String {
        let b = batch();
        let mut out = Vec::new();
        write_to(std::slice::from_ref(&b), b.schema(), format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_json_and_table() {
        assert_eq!(
            render(Format::Csv),
            "msisdn,calls\n+212612345678,3\n+212661234567,5\n"
        );
        assert_eq!(
            render(Format::Json),
            "[{\"msisdn\":\"+212612345678\",\"calls\":3},{\"msisdn\":\"+212661234567\",\"calls\":5}]\n"
        );
        assert_eq!(render(Format::Ndjson).lines().count(), 2);
        let table = render(Format::Table);
        assert!(table.contains("| +212612345678 | 3     |"), "{table}");
        assert!(table.ends_with("2 rows\n"));
    }

    #[test]
    fn view_types_become_utf8() {
        let plain = plain_types(&batch()).unwrap();
        assert_eq!(plain.schema().field(0).data_type(), &DataType::Utf8);
        assert_eq!(plain.column(0).len(), 2);
    }

    #[test]
    fn views_and_dictionaries_become_plain_at_every_depth() {
        use arrow::array::{
            BinaryViewBuilder, DictionaryArray, Int32Array, ListBuilder, MapBuilder, StringArray,
            StringViewBuilder, StructArray,
        };
        use arrow::datatypes::Int32Type;

        let mut list = ListBuilder::new(StringViewBuilder::new());
        list.append_value([Some("VOICE"), Some("SMS")]);
        list.append_value([Some("DATA")]);
        let period = DictionaryArray::<Int32Type>::try_new(
            Int32Array::from(vec![0, 0]),
            Arc::new(arrow::array::StringViewArray::from(vec!["2026-04"])),
        )
        .unwrap();
        let nested = StructArray::from(vec![(
            Arc::new(Field::new("period", period.data_type().clone(), false)),
            Arc::new(period) as ArrayRef,
        )]);
        let mut map = MapBuilder::new(None, StringViewBuilder::new(), BinaryViewBuilder::new());
        for _ in 0..2 {
            map.keys().append_value("cell");
            map.values().append_value(b"CAS0001");
            map.append(true).unwrap();
        }
        let columns: Vec<ArrayRef> = vec![
            Arc::new(list.finish()),
            Arc::new(nested),
            Arc::new(map.finish()),
        ];
        let fields: Vec<Field> = ["services", "billing", "evidence"]
            .iter()
            .zip(&columns)
            .map(|(n, c)| Field::new(*n, c.data_type().clone(), true))
            .collect();
        let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();

        let plain = plain_types(&batch).unwrap();
        for f in plain.schema().fields() {
            assert!(is_plain(f.data_type()), "{f:?}");
        }
        assert_eq!(
            plain.schema().as_ref(),
            plain_schema(&batch.schema()).as_ref()
        );
        let periods = plain
            .column(1)
            .as_any()
            .downcast_ref::<StructArray>()
            .unwrap();
        let periods = periods.column(0).as_any().downcast_ref::<StringArray>();
        assert_eq!(periods.unwrap().value(1), "2026-04");
    }
}
