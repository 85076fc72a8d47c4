//! Seeds: CSV files with declared column types, loaded as Delta tables in one commit.
//!
//! Types are declared in `# column: type` lines before the header row, with the data
//! contract's type names (`text`, `int`, `float`, `bool`, `date`, `ts`, `money2`, `money4`) or
//! `decimal(p,s)`. Undeclared columns are `text`. An empty field is null.

use std::io::Cursor;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use arrow::record_batch::RecordBatch;

#[derive(Debug, Clone, PartialEq)]
pub struct SeedColumn {
    pub name: String,
    pub data_type: DataType,
}

pub fn parse_type(t: &str) -> Result<DataType> {
    let t = t.trim().to_ascii_lowercase();
    Ok(match t.as_str() {
        "text" => DataType::Utf8,
        "int" => DataType::Int64,
        "float" => DataType::Float64,
        "bool" => DataType::Boolean,
        "date" => DataType::Date32,
        "ts" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        "money2" => DataType::Decimal128(18, 2),
        "money4" => DataType::Decimal128(18, 4),
        other => {
            let inner = other
                .strip_prefix("decimal(")
                .and_then(|r| r.strip_suffix(')'));
            let Some((p, s)) = inner.and_then(|i| i.split_once(',')) else {
                bail!(
                    "unknown type '{other}' (use text, int, float, bool, date, ts, money2, money4 or decimal(p,s))"
                );
            };
            DataType::Decimal128(p.trim().parse()?, s.trim().parse()?)
        }
    })
}

/// The columns of a seed: the header row's names with their declared types.
pub fn seed_columns(csv: &str) -> Result<Vec<SeedColumn>> {
    let mut declared = Vec::new();
    let mut header = None;
    for line in csv.lines() {
        let line = line.trim();
        if let Some(decl) = line.strip_prefix('#') {
            let (name, t) = decl
                .split_once(':')
                .with_context(|| format!("expected `# column: type`, found `{line}`"))?;
            declared.push((name.trim().to_string(), parse_type(t)?));
        } else if !line.is_empty() {
            header = Some(line.to_string());
            break;
        }
    }
    let header = header.context("no header row")?;
    let names: Vec<String> = header.split(',').map(|c| c.trim().to_string()).collect();
    for (name, _) in &declared {
        if !names.contains(name) {
            bail!("type declared for '{name}', which is not a column of the header row");
        }
    }
    Ok(names
        .into_iter()
        .map(|name| {
            let data_type = declared
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(DataType::Utf8, |(_, t)| t.clone());
            SeedColumn { name, data_type }
        })
        .collect())
}

pub fn read_seed(csv: &str, columns: &[SeedColumn]) -> Result<Vec<RecordBatch>> {
    let fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(&c.name, c.data_type.clone(), true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let body: String = csv
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    let reader = arrow::csv::ReaderBuilder::new(schema)
        .with_header(true)
        .build(Cursor::new(body))?;
    Ok(reader.collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::AsArray;
    use arrow::datatypes::{Decimal128Type, Int64Type};

    #[test]
    fn typed_columns() {
        let csv = "# monthly_fee: money2\n# voice_allowance_s: int\nplan_id,monthly_fee,voice_allowance_s\nP_BASIC,49.00,3600\nP_X,,\n";
        let cols = seed_columns(csv).unwrap();
        assert_eq!(cols[0].data_type, DataType::Utf8);
        assert_eq!(cols[1].data_type, DataType::Decimal128(18, 2));
        let batches = read_seed(csv, &cols).unwrap();
        let b = &batches[0];
        assert_eq!(b.num_rows(), 2);
        assert_eq!(b.column(1).as_primitive::<Decimal128Type>().value(0), 4900);
        assert_eq!(b.column(2).as_primitive::<Int64Type>().value(0), 3600);
        assert!(b.column(2).is_null(1), "an empty field is null");
    }

    #[test]
    fn bad_declarations() {
        assert!(
            seed_columns("# a: money9\na\n1\n")
                .unwrap_err()
                .to_string()
                .contains("money9")
        );
        assert!(
            seed_columns("# b: int\na\n1\n")
                .unwrap_err()
                .to_string()
                .contains("'b'")
        );
        assert_eq!(
            parse_type("decimal(10, 3)").unwrap(),
            DataType::Decimal128(10, 3)
        );
    }
}
