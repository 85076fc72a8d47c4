//! `local_hour(ts)`: the local hour of day (0-23) of a UTC instant, for hourly facts and KPIs.
//! (DataFusion's `date_part('hour', ...)` reads the UTC hour even of a zoned timestamp.)

use chrono::Timelike;
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::Result;
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use super::map_local;

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct LocalHour {
    signature: Signature,
}

impl Default for LocalHour {
    fn default() -> Self {
        Self {
            signature: Signature::any(1, Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for LocalHour {
    fn name(&self) -> &str {
        "local_hour"
    }
    fn signature(&self) -> &Signature {
        &self.signature
    }
    fn return_type(&self, _: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }
    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_local::<Int32Type>(&args, |l| l.hour() as i32)
    }
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionContext;

    #[tokio::test]
    async fn follows_the_local_offset() {
        let ctx = SessionContext::new();
        crate::register_all(&ctx);
        let sql = "SELECT local_hour(t) AS h FROM (VALUES (TIMESTAMP '2026-04-06T10:15:00Z'), (TIMESTAMP '2026-04-30T23:30:00Z'), \
                   (TIMESTAMP '2026-03-01T12:00:00Z'), (NULL)) AS v(t)";
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        let out = pretty_format_batches(&batches).unwrap().to_string();
        // 11 (UTC+01), 0 (the next local day), 12 (Ramadan suspension: UTC+00), null.
        let hours: Vec<&str> = out
            .lines()
            .skip(3)
            .filter_map(|l| l.split('|').nth(1))
            .map(str::trim)
            .collect();
        assert_eq!(hours, vec!["11", "0", "12", ""], "{out}");
    }
}
