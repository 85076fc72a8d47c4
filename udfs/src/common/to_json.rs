//! `to_json(struct)`: a struct (e.g. `named_struct('record_type', record_type, ...)`) as one JSON
//! object per row, for keeping a rejected record exactly as it arrived
//! (`silver.cdr_rejected.record_json`). Text fields become strings, integers numbers, booleans
//! booleans, anything else its text form; null stays null.

use std::io::Write;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringBuilder};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{DataFusionError, Result, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::strings::string_values;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ToJson {
    signature: Signature,
}

impl Default for ToJson {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

/// One field, in the form it is written.
enum Values {
    Text(ArrayRef),
    Integer(ArrayRef),
    Boolean(ArrayRef),
}

fn external(e: impl std::error::Error + Send + Sync + 'static) -> DataFusionError {
    DataFusionError::External(Box::new(e))
}

impl ScalarUDFImpl for ToJson {
    fn name(&self) -> &str {
        "to_json"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, types: &[DataType]) -> Result<DataType> {
        match &types[0] {
            DataType::Struct(_) => Ok(DataType::Utf8),
            other => plan_err!(
                "to_json expects a struct such as named_struct('name', value, ...), got {other}"
            ),
        }
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let array = args.args[0].to_array(args.number_rows)?;
        let Some(rows) = array.as_struct_opt() else {
            return exec_err!("to_json expects a struct");
        };
        let mut names = Vec::new();
        let mut fields = Vec::new();
        for (field, column) in rows.fields().iter().zip(rows.columns()) {
            names.push(serde_json::to_string(field.name()).map_err(external)?);
            fields.push(match column.data_type() {
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
                    Values::Text(column.clone())
                }
                t if t.is_integer() => Values::Integer(cast(column, &DataType::Int64)?),
                DataType::Boolean => Values::Boolean(column.clone()),
                _ => Values::Text(cast(column, &DataType::Utf8)?),
            });
        }
        let texts = fields
            .iter()
            .map(|f| match f {
                Values::Text(a) => string_values(a).map(Iterator::collect),
                _ => Ok(Vec::new()),
            })
            .collect::<Result<Vec<Vec<Option<&str>>>>>()?;
        let mut out = StringBuilder::with_capacity(args.number_rows, 0);
        let mut row = Vec::with_capacity(512);
        #[expect(
            clippy::needless_range_loop,
            reason = "i indexes every column's values (texts[c][i]), not one slice"
        )]
        for i in 0..args.number_rows {
            if rows.is_null(i) {
                out.append_null();
                continue;
            }
            row.clear();
            row.push(b'{');
            for (c, field) in fields.iter().enumerate() {
                if c > 0 {
                    row.push(b',');
                }
                row.extend_from_slice(names[c].as_bytes());
                row.push(b':');
                match field {
                    Values::Text(_) => match texts[c][i] {
                        Some(s) => serde_json::to_writer(&mut row, s).map_err(external)?,
                        None => row.extend_from_slice(b"null"),
                    },
                    Values::Integer(a) => {
                        let a = a.as_primitive::<Int64Type>();
                        if a.is_null(i) {
                            row.extend_from_slice(b"null")
                        } else {
                            write!(row, "{}", a.value(i))?
                        }
                    }
                    Values::Boolean(a) => {
                        let a = a.as_boolean();
                        row.extend_from_slice(if a.is_null(i) {
                            b"null"
                        } else if a.value(i) {
                            b"true"
                        } else {
                            b"false"
                        });
                    }
                }
            }
            row.push(b'}');
            out.append_value(std::str::from_utf8(&row).map_err(external)?);
        }
        Ok(ColumnarValue::Array(Arc::new(out.finish()) as ArrayRef))
    }
}
