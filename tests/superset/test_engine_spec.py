"""The engine spec's SQL, run on the real server: every time grain buckets as its name says (weeks
from Monday, 5-minute bins aligned to the epoch), literals parse, money comes back typed."""
from datetime import date, datetime, timezone

import pytest
import sqlalchemy

from superset.constants import TimeGrain

from cdrlake_superset import CdrlakeEngineSpec

# A Wednesday afternoon, UTC.
AT = "TIMESTAMP '2026-04-08T13:47:29.500Z'"
EXPECTED = {
    TimeGrain.SECOND: "2026-04-08 13:47:29",
    TimeGrain.FIVE_SECONDS: "2026-04-08 13:47:25",
    TimeGrain.THIRTY_SECONDS: "2026-04-08 13:47:00",
    TimeGrain.MINUTE: "2026-04-08 13:47:00",
    TimeGrain.FIVE_MINUTES: "2026-04-08 13:45:00",
    TimeGrain.TEN_MINUTES: "2026-04-08 13:40:00",
    TimeGrain.FIFTEEN_MINUTES: "2026-04-08 13:45:00",
    TimeGrain.THIRTY_MINUTES: "2026-04-08 13:30:00",
    TimeGrain.HALF_HOUR: "2026-04-08 13:30:00",
    TimeGrain.HOUR: "2026-04-08 13:00:00",
    TimeGrain.SIX_HOURS: "2026-04-08 12:00:00",
    TimeGrain.DAY: "2026-04-08 00:00:00",
    TimeGrain.WEEK: "2026-04-06 00:00:00",
    TimeGrain.WEEK_STARTING_MONDAY: "2026-04-06 00:00:00",
    TimeGrain.WEEK_STARTING_SUNDAY: "2026-04-05 00:00:00",
    TimeGrain.WEEK_ENDING_SATURDAY: "2026-04-11 00:00:00",
    TimeGrain.WEEK_ENDING_SUNDAY: "2026-04-12 00:00:00",
    TimeGrain.MONTH: "2026-04-01 00:00:00",
    TimeGrain.QUARTER: "2026-04-01 00:00:00",
    TimeGrain.QUARTER_YEAR: "2026-04-01 00:00:00",
    TimeGrain.YEAR: "2026-01-01 00:00:00",
}


@pytest.fixture(scope="module")
def db(cdrlake):
    engine = sqlalchemy.create_engine(cdrlake)
    with engine.connect() as conn:
        yield conn


def scalar(db, sql):
    return db.exec_driver_sql(sql).fetchone()[0]


def as_text(value) -> str:
    if isinstance(value, int):  # flightsql-dbapi hands timestamps over as epoch nanoseconds
        value = datetime.fromtimestamp(value / 1e9, timezone.utc)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d 00:00:00")
    return str(value)[:19].replace("T", " ")


def test_every_time_grain_buckets_a_utc_timestamp_as_named(db):
    grains = CdrlakeEngineSpec._time_grain_expressions
    assert set(EXPECTED) <= set(grains), set(EXPECTED) - set(grains)
    wrong = {}
    for grain, want in EXPECTED.items():
        got = as_text(scalar(db, "SELECT " + grains[grain].format(col=AT)))
        if got != want:
            wrong[grain] = (got, want)
    assert not wrong, wrong


def test_grains_work_on_local_date_columns(db):
    week = CdrlakeEngineSpec._time_grain_expressions[TimeGrain.WEEK].format(col="DATE '2026-04-08'")
    assert as_text(scalar(db, "SELECT " + week)) == "2026-04-06 00:00:00"
    month = CdrlakeEngineSpec._time_grain_expressions[TimeGrain.MONTH].format(col="d")
    got = scalar(db, f"SELECT {month} FROM (SELECT date AS d FROM gold.agg_cell_hourly LIMIT 1)")
    assert as_text(got).endswith("-01 00:00:00")


def test_literals_and_epochs_parse_and_compare(db):
    at = datetime(2026, 4, 8, 13, 47, 29, 500000)
    ts = CdrlakeEngineSpec.convert_dttm("TIMESTAMP", at)
    assert scalar(db, f"SELECT {ts} = {AT}") is True
    day = CdrlakeEngineSpec.convert_dttm("DATE", at)
    assert scalar(db, f"SELECT {day} = DATE '2026-04-08'") is True
    assert CdrlakeEngineSpec.convert_dttm("VARCHAR", at) is None
    epoch = CdrlakeEngineSpec.epoch_to_dttm().format(col="1775656049")
    assert as_text(scalar(db, "SELECT " + epoch)) == "2026-04-08 13:47:29"
    epoch_ms = CdrlakeEngineSpec.epoch_ms_to_dttm().format(col="1775656049500")
    assert as_text(scalar(db, "SELECT " + epoch_ms)) == "2026-04-08 13:47:29"


def test_money_sums_are_typed_numeric(db):
    cursor = db.exec_driver_sql("SELECT SUM(total_amount) AS total, COUNT(*) AS n, MIN(period_start) AS p FROM gold.invoice")
    types = [CdrlakeEngineSpec.get_datatype(column[1]) for column in cursor.cursor.description]
    assert types[0] in ("DECIMAL", "NUMERIC"), types
    assert types[1] in ("BIGINT", "INTEGER"), types
    assert types[2] == "DATE", types
