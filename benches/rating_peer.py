"""The rating step in DuckDB beside cdrlake's gold.rated_cdr, on the same silver data (issue #25).

For each size: generate that many CDRs, build silver and gold.rated_cdr with cdrlake, then time
(1) cdrlake rebuilding gold.rated_cdr from silver (`run --select gold.rated_cdr --full-refresh`)
and (2) DuckDB rating the same silver Parquet files with the same rules (rating.md) and writing
the result to Parquet. DuckDB's rows must equal gold.rated_cdr's (every column but _rated_at)
before a time is printed.

    benches/rating_peer.sh [SIZE ...]      # sets up the venv and the release build, then this

Reads the Delta tables' files from their logs itself (DuckDB's delta extension would be a
download); only loopback and local files are touched.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import duckdb

ZONE = "Africa/Casablanca"


def active_files(table: Path) -> list[str]:
    """The data files of a Delta table's latest version: checkpoint, then commits after it."""
    log = table / "_delta_log"
    files: set[str] = set()
    start = 0
    last = log / "_last_checkpoint"
    if last.exists():
        version = json.loads(last.read_text())["version"]
        parts = sorted(log.glob(f"{version:020d}.checkpoint*.parquet"))
        rows = duckdb.sql(
            f"SELECT add.path AS path FROM read_parquet({[str(p) for p in parts]}) "
            "WHERE add IS NOT NULL"
        ).fetchall()
        files = {r[0] for r in rows}
        start = version + 1
    commits = sorted(
        p for p in log.glob("*.json") if re.fullmatch(r"\d{20}\.json", p.name)
    )
    for commit in commits:
        if int(commit.stem) < start:
            continue
        for line in commit.read_text().splitlines():
            action = json.loads(line)
            if "add" in action:
                files.add(action["add"]["path"])
            elif "remove" in action:
                files.discard(action["remove"]["path"])
    return sorted(str(table / unquote(f)) for f in files)


def scan(lake: Path, name: str) -> str:
    schema, table = name.split(".")
    files = active_files(lake / schema / table)
    if not files:
        sys.exit(f"{name} has no data files under {lake}")
    return f"read_parquet({files}, hive_partitioning = true)"


def prefix_lookup(con, lake: Path) -> str:
    """destination_zone as a cascade of map lookups, longest prefix first (the UDF's rule)."""
    rows = con.sql(f"SELECT prefix, zone FROM {scan(lake, 'bronze.tariff_destination')}").fetchall()
    zones = dict(rows)
    entries = ", ".join(f"'{p}': '{z}'" for p, z in zones.items())
    lengths = sorted({len(p) for p in zones}, reverse=True)
    lookups = ", ".join(f"zones[left(other_party, {n})]" for n in lengths)
    return f"MAP {{{entries}}}", f"coalesce({lookups})"


def rating_sql(con, lake: Path) -> str:
    zones, zone_of = prefix_lookup(con, lake)
    local = f"(start_time AT TIME ZONE '{ZONE}')"
    return f"""
WITH zones AS (SELECT {zones} AS zones),
cdr AS (
    SELECT c.*, coalesce(c.customer_id, o.customer_id) AS customer
    FROM {scan(lake, 'silver.cdr')} c
    LEFT JOIN {scan(lake, 'silver.msisdn_owner')} o
      ON c.customer_id IS NULL AND o.msisdn = c.served_msisdn
     AND o.owned_from <= c.start_time AND (o.owned_to IS NULL OR c.start_time < o.owned_to)
),
subscriber AS (SELECT * FROM {scan(lake, 'silver.subscriber')}),
classified AS (
    SELECT cdr.*, s.plan_id,
        strftime({local}, '%Y-%m') AS billing_period,
        CASE WHEN isodow({local}) <= 5 AND hour({local}) BETWEEN 8 AND 19 THEN 'PEAK' ELSE 'OFFPEAK' END AS band,
        CASE WHEN cdr.roaming THEN 'ROAMING' WHEN cdr.service = 'DATA' THEN 'HOME'
             ELSE {zone_of} END AS zone,
        CASE WHEN cdr.roaming THEN cdr.record_type ELSE cdr.service END AS rate_service
    FROM cdr
    CROSS JOIN zones
    LEFT JOIN subscriber s ON s.customer_id = cdr.customer
     AND s.valid_from <= cdr.start_time AND (s.valid_to IS NULL OR cdr.start_time < s.valid_to)
),
rates AS (SELECT * FROM {scan(lake, 'bronze.tariff_rate')}),
priced AS (
    SELECT c.*,
        coalesce(e.zone, a.zone) IS NOT NULL AS has_rate,
        coalesce(e.connect_fee, a.connect_fee) AS connect_fee,
        coalesce(e.rate, a.rate) AS rate,
        coalesce(e.first_s, a.first_s) AS first_s,
        coalesce(e.next_s, a.next_s) AS next_s,
        coalesce(e.min_charge, a.min_charge) AS min_charge
    FROM classified c
    LEFT JOIN rates e ON e.zone = c.zone AND e.service = c.rate_service AND e.band = c.band
    LEFT JOIN rates a ON a.zone = c.zone AND a.service = c.rate_service AND a.band = 'ANY'
),
statused AS (
    SELECT *,
        CASE service
            WHEN 'VOICE' THEN CASE
                WHEN duration_s < 0 OR first_s < 0 OR next_s <= 0 THEN NULL
                WHEN duration_s = 0 THEN 0
                WHEN duration_s <= first_s THEN first_s
                ELSE first_s + (duration_s - first_s + next_s - 1) // next_s * next_s END
            WHEN 'SMS' THEN 1
            WHEN 'DATA' THEN (volume_bytes + 1048575) // 1048576
        END AS billable_units,
        CASE
            WHEN customer IS NULL THEN 'UNRATED'
            WHEN (NOT roaming AND record_type IN ('VOICE_MT', 'SMS_MT')) OR (roaming AND record_type = 'SMS_MT')
                OR NOT answered OR quality_flags LIKE '%W001%' THEN 'ZERO'
            WHEN NOT has_rate THEN 'UNRATED'
            ELSE 'RATED'
        END AS rating_status
    FROM priced
),
allowance_kind AS (
    SELECT *,
        CASE
            WHEN rating_status <> 'RATED' OR roaming THEN NULL
            WHEN record_type = 'VOICE_MO' AND zone IN ('MA_ONNET', 'MA_MOBILE', 'MA_FIXED') THEN 'VOICE'
            WHEN record_type = 'SMS_MO' AND zone IN ('MA_ONNET', 'MA_MOBILE', 'MA_FIXED') THEN 'SMS'
            WHEN record_type = 'DATA' THEN 'DATA'
        END AS allowance
    FROM statused
),
periods AS (
    SELECT billing_period,
        timezone('{ZONE}', CAST(billing_period || '-01' AS DATE)::TIMESTAMP) AS period_start,
        timezone('{ZONE}', (CAST(billing_period || '-01' AS DATE) + INTERVAL 1 MONTH)::TIMESTAMP) AS period_end
    FROM (SELECT DISTINCT billing_period FROM allowance_kind)
),
period_plan AS (
    SELECT s.customer_id AS customer, p.billing_period,
        first(s.plan_id ORDER BY greatest(s.valid_from, p.period_start), s.version) AS allowance_plan
    FROM periods p
    JOIN subscriber s ON s.status = 'active' AND s.valid_from < p.period_end
     AND (s.valid_to IS NULL OR (s.valid_to > p.period_start AND s.valid_to > s.valid_from))
    GROUP BY ALL
),
consumed AS (
    SELECT a.*,
        CASE a.allowance WHEN 'VOICE' THEN plan.voice_allowance_s WHEN 'SMS' THEN plan.sms_allowance
             WHEN 'DATA' THEN plan.data_allowance_mb END AS allowance_total,
        coalesce(sum(a.billable_units) OVER (
            PARTITION BY a.customer, a.billing_period, a.allowance ORDER BY a.start_time, a.cdr_id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS used_before
    FROM allowance_kind a
    LEFT JOIN period_plan pp ON pp.customer = a.customer AND pp.billing_period = a.billing_period
    LEFT JOIN {scan(lake, 'bronze.plan')} plan ON plan.plan_id = pp.allowance_plan
),
covered AS (
    SELECT *,
        CASE WHEN rating_status <> 'RATED' OR allowance IS NULL THEN 0
             ELSE least(billable_units, greatest(0, coalesce(allowance_total, 0) - used_before)) END
            AS allowance_units_used
    FROM consumed
),
charged AS (
    SELECT *,
        CASE WHEN rating_status = 'RATED' THEN billable_units - allowance_units_used ELSE 0 END AS chargeable_units,
        -- Money in exact 1e-4 units: round_up(connect_fee + units * rate / 60, 4) is connect_fee
        -- plus the per-second part rounded up (both fees have four decimals).
        CAST(connect_fee * 10000 AS HUGEINT) AS fee_u,
        CAST(rate * 10000 AS HUGEINT) AS rate_u,
        CAST(min_charge * 10000 AS HUGEINT) AS min_u
    FROM covered
)
SELECT cdr_id, customer AS customer_id, billing_period, plan_id, record_type, service, zone, band,
    roaming, start_time, first_cell_id, duration_s, volume_bytes, billable_units,
    allowance_units_used, chargeable_units,
    CAST(CAST(CASE
        WHEN rating_status <> 'RATED' THEN 0
        WHEN service = 'VOICE' THEN CASE
            WHEN chargeable_units > 0 THEN greatest(fee_u + (chargeable_units * rate_u + 59) // 60, min_u)
            ELSE fee_u END
        ELSE chargeable_units * rate_u
    END AS DECIMAL(18, 0)) * 0.0001::DECIMAL(5, 4) AS DECIMAL(18, 4)) AS charge,
    rating_status,
    CASE WHEN rating_status <> 'UNRATED' THEN NULL WHEN customer IS NULL THEN 'E006' ELSE 'E007' END AS reason_code
FROM charged
"""


COLUMNS = """cdr_id, customer_id, CAST(billing_period AS VARCHAR) AS billing_period, plan_id,
    record_type, service, zone, band, roaming, start_time, first_cell_id, duration_s, volume_bytes,
    billable_units, allowance_units_used, chargeable_units, CAST(charge AS DECIMAL(18, 4)) AS charge,
    rating_status, reason_code"""


def cdrlake(binary: str, lake: Path, project: str, *args: str) -> str:
    command = [binary, *args, "--lakehouse", str(lake)]
    if args[0] == "run":
        command += ["--project", project]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def measure(size: int, args) -> dict:
    lake = Path(args.work) / f"lake-{size}"
    if not (lake / "silver" / "cdr").exists():
        print(f"{size:,} CDRs: generating and building silver ...", flush=True)
        cdrlake(args.cdrlake, lake, args.project, "generate", "--cdrs", str(size))
        cdrlake(args.cdrlake, lake, args.project, "run", "--select", "+gold.rated_cdr")
    started = time.monotonic()
    out = cdrlake(
        args.cdrlake, lake, args.project, "run", "--select", "gold.rated_cdr", "--full-refresh"
    )
    cdrlake_wall = time.monotonic() - started
    built = re.search(r"model gold\.rated_cdr .* OK in ([\d.]+)s, (\d+) rows", out)
    if not built:
        sys.exit(f"no build line for gold.rated_cdr in:\n{out}")
    model_s, rows = float(built.group(1)), int(built.group(2))

    con = duckdb.connect()
    con.sql(f"SET threads = {os.cpu_count()}")
    out_file = Path(args.work) / f"duckdb-rated-{size}.parquet"
    started = time.monotonic()
    con.sql(f"COPY ({rating_sql(con, lake)}) TO '{out_file}' (FORMAT parquet)")
    duck_s = time.monotonic() - started

    duck = f"read_parquet('{out_file}')"
    gold = scan(lake, "gold.rated_cdr")
    only_duck, only_gold = (
        con.sql(f"SELECT count(*) FROM (SELECT {COLUMNS} FROM {a} EXCEPT ALL SELECT {COLUMNS} FROM {b})").fetchall()[0][0]
        for a, b in ((duck, gold), (gold, duck))
    )
    if only_duck or only_gold:
        sample = con.sql(
            f"SELECT {COLUMNS} FROM {duck} EXCEPT ALL SELECT {COLUMNS} FROM {gold} LIMIT 5"
        ).fetchall()
        sys.exit(
            f"{size:,}: DuckDB and gold.rated_cdr differ ({only_duck} rows only in DuckDB, "
            f"{only_gold} only in gold), e.g. {sample}"
        )
    return {"size": size, "rows": rows, "cdrlake_model_s": model_s,
            "cdrlake_wall_s": cdrlake_wall, "duckdb_s": duck_s}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000_000, 30_000_000])
    parser.add_argument("--cdrlake", default="target/release/cdrlake")
    parser.add_argument("--project", default="sql")
    parser.add_argument("--work", default="bench-work/rating-peer")
    args = parser.parse_args()
    Path(args.work).mkdir(parents=True, exist_ok=True)
    print("size | rated rows | cdrlake gold.rated_cdr (model / process) | DuckDB | ratio")
    for size in args.sizes:
        r = measure(size, args)
        print(
            f"{r['size']:,} | {r['rows']:,} | {r['cdrlake_model_s']:.1f} s / {r['cdrlake_wall_s']:.1f} s"
            f" | {r['duckdb_s']:.1f} s | {r['cdrlake_model_s'] / r['duckdb_s']:.2f}x",
            flush=True,
        )


if __name__ == "__main__":
    main()
