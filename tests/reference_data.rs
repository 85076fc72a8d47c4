//! The shipped model project (`sql/`) builds, and its seeds carry the tariff of the spec.

mod common;

use common::{cdrlake, stdout};

#[test]
fn up_builds_the_shipped_project_with_the_spec_tariff() {
    let dir = tempfile::tempdir().unwrap();
    let project = std::path::PathBuf::from(
        std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    )
    .join("sql");
    let lake = dir.path().join("lake");
    let lake = lake.to_str().unwrap();
    let o = cdrlake(
        dir.path(),
        &[
            "--lakehouse",
            lake,
            "up",
            "--project",
            project.to_str().unwrap(),
            "--customers",
            "30",
            "--days",
            "1",
            "--no-serve",
        ],
        &[],
    );
    assert!(o.status.success(), "{}{}", stdout(&o), common::stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("bronze.tariff_rate: version 0, 28 rows"),
        "{out}"
    );
    assert!(
        out.contains("no CDRs yet: generating 30 subscribers over 1 days"),
        "{out}"
    );
    assert!(out.contains("bronze.voice_cdr: version 0"), "{out}");
    // A second `up` keeps the data it has.
    let again = cdrlake(
        dir.path(),
        &[
            "--lakehouse",
            lake,
            "up",
            "--project",
            project.to_str().unwrap(),
            "--no-serve",
        ],
        &[],
    );
    assert!(!stdout(&again).contains("generating"), "{}", stdout(&again));

    let q = |sql: &str| {
        let o = cdrlake(
            dir.path(),
            &["--lakehouse", lake, "query", "--format", "csv", sql],
            &[],
        );
        assert!(o.status.success(), "{}", common::stderr(&o));
        stdout(&o)
    };
    assert_eq!(
        q(
            "SELECT plan_id, monthly_fee, voice_allowance_s, sms_allowance, data_allowance_mb FROM bronze.plan ORDER BY monthly_fee"
        ),
        "plan_id,monthly_fee,voice_allowance_s,sms_allowance,data_allowance_mb\nP_BASIC,49.00,3600,50,2048\nP_PLUS,99.00,18000,200,10240\nP_MAX,199.00,180000,1000,51200\n"
    );
    assert_eq!(
        q(
            "SELECT zone, count(*) AS prefixes FROM bronze.tariff_destination GROUP BY zone ORDER BY zone"
        ),
        "zone,prefixes\nHIGH_RISK,3\nINTL_Z1,9\nINTL_Z2,4\nINTL_Z3,5\nINTL_Z4,1\nMA_FIXED,2\nMA_MOBILE,2\nMA_ONNET,2\nMA_PREMIUM,1\nSHORT_CODE,1\n"
    );
    // Rows the rating worked example depends on.
    assert_eq!(
        q(
            "SELECT zone, service, band, connect_fee, rate, first_s, next_s, min_charge FROM bronze.tariff_rate \
           WHERE (zone, service) IN (('MA_FIXED', 'VOICE'), ('INTL_Z1', 'VOICE'), ('ROAMING', 'VOICE_MO'), ('HOME', 'DATA')) ORDER BY zone, band"
        ),
        "zone,service,band,connect_fee,rate,first_s,next_s,min_charge\n\
         HOME,DATA,ANY,0.0000,0.1000,,,0.0000\n\
         INTL_Z1,VOICE,ANY,0.5000,3.0000,1,1,1.0000\n\
         MA_FIXED,VOICE,OFFPEAK,0.0000,0.6000,60,1,0.0000\n\
         MA_FIXED,VOICE,PEAK,0.0000,1.0000,60,1,0.0000\n\
         ROAMING,VOICE_MO,ANY,0.0000,10.0000,60,60,0.0000\n"
    );
    assert_eq!(
        q("SELECT count(*) AS n FROM bronze.tariff_rate WHERE service = 'SMS'"),
        "n\n10\n"
    );
}
