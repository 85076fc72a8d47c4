//! Telecom scalar functions for DataFusion, registered by `register_all` in the one session
//! factory that the CLI, model runner and server share. One function per file, grouped by the
//! layer that needs it.

pub mod analytics;
pub mod common;
pub mod local_time;
pub mod mediation;
pub mod rating;
pub mod reference;
mod strings;

use datafusion::logical_expr::ScalarUDF;
use datafusion::prelude::SessionContext;

/// Every cdrlake UDF but `destination_zone`, which needs its prefix table (see `register_all`).
pub fn all() -> Vec<ScalarUDF> {
    vec![
        ScalarUDF::new_from_impl(mediation::normalize_msisdn::NormalizeMsisdn::default()),
        ScalarUDF::new_from_impl(mediation::rat_generation::RatGeneration::default()),
        ScalarUDF::new_from_impl(mediation::parse_timestamp::ParseTimestampUtc::default()),
        ScalarUDF::new_from_impl(mediation::parse_count::ParseCount::default()),
        ScalarUDF::new_from_impl(mediation::raw_field::RawField::default()),
        ScalarUDF::new_from_impl(common::to_json::ToJson::default()),
        ScalarUDF::new_from_impl(common::add_seconds::AddSeconds::default()),
        ScalarUDF::new_from_impl(common::key_hash::KeyHash::default()),
        ScalarUDF::new_from_impl(local_time::local_day_start::LocalDayStart::default()),
        ScalarUDF::new_from_impl(local_time::local_date::LocalDate::default()),
        ScalarUDF::new_from_impl(local_time::local_hour::LocalHour::default()),
        ScalarUDF::new_from_impl(local_time::billing_period::BillingPeriod::default()),
        ScalarUDF::new_from_impl(local_time::time_band::TimeBand::default()),
        ScalarUDF::new_from_impl(rating::billable_units::BillableUnits::default()),
        ScalarUDF::new_from_impl(analytics::mask_msisdn::MaskMsisdn::default()),
        ScalarUDF::new_from_impl(analytics::surrogate_key::SurrogateKey::default()),
        ScalarUDF::new_from_impl(analytics::haversine_km::HaversineKm::default()),
        // Without a key until the engine sets the configured one (see `HmacToken::with_key`).
        ScalarUDF::new_from_impl(analytics::hmac_token::HmacToken::default()),
        ScalarUDF::new_from_impl(rating::rounding::Round::new(rating::rounding::Mode::Up)),
        ScalarUDF::new_from_impl(rating::rounding::Round::new(rating::rounding::Mode::HalfUp)),
    ]
}

/// UDFs that use a server-side key: registered with it in the model runner's engine, never in
/// a client session's.
pub const KEYED: [&str; 1] = ["hmac_token"];

/// The keyed UDFs with `key`.
pub fn keyed(key: &[u8]) -> Vec<ScalarUDF> {
    vec![ScalarUDF::new_from_impl(
        analytics::hmac_token::HmacToken::with_key(key),
    )]
}

/// Registers every UDF; returns the reference tables they read, for the engine to load.
pub fn register_all(ctx: &SessionContext) -> reference::References {
    for udf in all() {
        ctx.register_udf(udf);
    }
    let zones = rating::destination_zone::DestinationZone::new();
    let destinations = reference::TariffDestinations(zones.loader());
    ctx.register_udf(ScalarUDF::new_from_impl(zones));
    vec![std::sync::Arc::new(destinations)]
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use datafusion::arrow::util::pretty::pretty_format_batches;
    use datafusion::prelude::SessionContext;

    #[test]
    fn no_two_functions_share_a_name() {
        let mut names: Vec<String> = super::all().iter().map(|f| f.name().to_string()).collect();
        names.push("destination_zone".into());
        let unique: HashSet<&String> = names.iter().collect();
        assert_eq!(unique.len(), names.len(), "{names:?}");
    }

    async fn query(sql: &str) -> String {
        let ctx = SessionContext::new();
        super::register_all(&ctx);
        let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
        pretty_format_batches(&batches).unwrap().to_string()
    }

    #[tokio::test]
    async fn functions_work_in_sql_on_columns_literals_and_nulls() {
        let out = query(
            "SELECT normalize_msisdn(n, t) AS n, rat_generation(r) AS r, parse_count(c) AS c, parse_timestamp_utc(ts) AS ts \
             FROM (VALUES ('0661 23 45 67', 'national', 'lte', ' 12 ', '2026-04-06T11:15:00+01:00'), \
                          ('34612345678', 'international', NULL, '-1', '2026-04-06T11:15:00'), \
                          (NULL, NULL, '10', NULL, NULL)) AS v(n, t, r, c, ts)",
        )
        .await;
        let expected = "\
+---------------+---------+----+----------------------+
| n             | r       | c  | ts                   |
+---------------+---------+----+----------------------+
| +212661234567 | 4G      | 12 | 2026-04-06T10:15:00Z |
| +34612345678  | UNKNOWN |    |                      |
|               | 5G      |    |                      |
+---------------+---------+----+----------------------+";
        assert_eq!(out, expected);
        let local = query(
            "SELECT local_day_start(DATE '2026-04-21') AS d, billing_period(TIMESTAMP '2026-04-30T23:30:00Z') AS p, \
             time_band(TIMESTAMP '2026-04-06T10:15:00Z') AS b, local_date(TIMESTAMP '2026-04-30T23:30:00Z') AS l, \
             add_seconds(TIMESTAMP '2026-04-30T23:30:00Z', 61) AS a",
        )
        .await;
        let money = query("SELECT round_up(CAST(0.81333 AS DECIMAL(10,5)), 4) AS c, round_half_up(CAST(-6.567 AS DECIMAL(10,3)), 2) AS d, \
             arrow_typeof(round_up(CAST(1 AS DECIMAL(10,5)), 4)) AS t, billable_units(61, 60, 60) AS u").await;
        assert!(
            money.contains("0.8134")
                && money.contains("-6.57")
                && money.contains("Decimal128(18, 4)")
                && money.contains("120"),
            "{money}"
        );
        assert!(
            local.contains("2026-04-20T23:00:00Z")
                && local.contains("2026-05 ")
                && local.contains("PEAK")
                && local.contains("2026-05-01")
                && local.contains("2026-04-30T23:31:01Z"),
            "{local}"
        );
        let one_arg =
            query("SELECT normalize_msisdn(arrow_cast('0612345678', 'Utf8View')) AS n").await;
        assert!(one_arg.contains("+212612345678"), "{one_arg}");
    }

    #[tokio::test]
    async fn to_json_keeps_text_numbers_and_nulls() {
        let out = query(
            "SELECT to_json(named_struct('a', s, 'n', i, 'q', 'say \"hi\"', 'b', true)) AS j \
             FROM (VALUES ('x', 1), (NULL, NULL)) AS v(s, i)",
        )
        .await;
        assert!(
            out.contains(r#"{"a":"x","n":1,"q":"say \"hi\"","b":true}"#),
            "{out}"
        );
        assert!(
            out.contains(r#"{"a":null,"n":null,"q":"say \"hi\"","b":true}"#),
            "{out}"
        );
        let ctx = SessionContext::new();
        super::register_all(&ctx);
        let err = ctx.sql("SELECT to_json('a')").await.err();
        assert!(err.is_some_and(|e| e.to_string().contains("named_struct")));
    }
}
