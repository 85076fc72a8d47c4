"""Superset engine spec for cdrlake, served over Arrow Flight SQL through the `datafusion://`
SQLAlchemy dialect of flightsql-dbapi. Installed into Superset's environment, it is found through
the `superset.db_engine_specs` entry point; nothing needs to be added to superset_config.py.

Timestamps in cdrlake are UTC (`Timestamp(us, "UTC")`), so grains on a timestamp column bucket
UTC time; the gold tables carry local dates (`date`, `billing_period`) for local-day charts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.types import TypeEngine

from superset.constants import TimeGrain
from superset.db_engine_specs.base import BaseEngineSpec, LimitMethod

_EPOCH = "TIMESTAMP '1970-01-01T00:00:00Z'"


def _bin(interval: str) -> str:
    # date_bin keeps buckets aligned to the epoch whatever the data's first row is.
    return f"date_bin(INTERVAL '{interval}', {{col}}, {_EPOCH})"


class CdrlakeEngineSpec(BaseEngineSpec):
    """cdrlake (Apache DataFusion SQL) behind Flight SQL."""

    engine = "datafusion"
    engine_name = "cdrlake"
    drivers = {"flightsql": "Arrow Flight SQL (flightsql-dbapi)"}
    default_driver = "flightsql"
    sqlalchemy_uri_placeholder = "datafusion://USER:PASSWORD@HOST:50051?insecure=true"

    # Bronze, silver and gold are read through the server, never written from Superset.
    supports_file_upload = False
    allows_joins = True
    allows_subqueries = True
    allows_alias_in_select = True
    allows_alias_in_orderby = True
    limit_method = LimitMethod.FORCE_LIMIT

    # DataFusion's date_trunc('week') starts weeks on Monday (ISO 8601).
    _time_grain_expressions = {
        None: "{col}",
        TimeGrain.SECOND: "date_trunc('second', {col})",
        TimeGrain.FIVE_SECONDS: _bin("5 seconds"),
        TimeGrain.THIRTY_SECONDS: _bin("30 seconds"),
        TimeGrain.MINUTE: "date_trunc('minute', {col})",
        TimeGrain.FIVE_MINUTES: _bin("5 minutes"),
        TimeGrain.TEN_MINUTES: _bin("10 minutes"),
        TimeGrain.FIFTEEN_MINUTES: _bin("15 minutes"),
        TimeGrain.THIRTY_MINUTES: _bin("30 minutes"),
        TimeGrain.HALF_HOUR: _bin("30 minutes"),
        TimeGrain.HOUR: "date_trunc('hour', {col})",
        TimeGrain.SIX_HOURS: _bin("6 hours"),
        TimeGrain.DAY: "date_trunc('day', {col})",
        TimeGrain.WEEK: "date_trunc('week', {col})",
        TimeGrain.WEEK_STARTING_MONDAY: "date_trunc('week', {col})",
        TimeGrain.WEEK_STARTING_SUNDAY: (
            "date_trunc('week', {col} + INTERVAL '1 day') - INTERVAL '1 day'"
        ),
        TimeGrain.WEEK_ENDING_SATURDAY: (
            "date_trunc('week', {col} + INTERVAL '1 day') + INTERVAL '5 days'"
        ),
        TimeGrain.WEEK_ENDING_SUNDAY: "date_trunc('week', {col}) + INTERVAL '6 days'",
        TimeGrain.MONTH: "date_trunc('month', {col})",
        TimeGrain.QUARTER: "date_trunc('quarter', {col})",
        TimeGrain.QUARTER_YEAR: "date_trunc('quarter', {col})",
        TimeGrain.YEAR: "date_trunc('year', {col})",
    }

    @classmethod
    def epoch_to_dttm(cls) -> str:
        return "to_timestamp({col})"

    @classmethod
    def epoch_ms_to_dttm(cls) -> str:
        return "to_timestamp_millis({col})"

    @classmethod
    def convert_dttm(
        cls, target_type: str, dttm: datetime, db_extra: dict[str, Any] | None = None
    ) -> str | None:
        kind = target_type.upper()
        if kind == "DATE":
            return f"DATE '{dttm.date().isoformat()}'"
        if kind.startswith("TIMESTAMP") or kind == "DATETIME":
            # Superset hands naive datetimes meaning UTC; cdrlake timestamps are UTC.
            return f"TIMESTAMP '{dttm.strftime('%Y-%m-%dT%H:%M:%S.%f')}Z'"
        return None

    @classmethod
    def get_datatype(cls, type_code: Any) -> str | None:
        """flightsql-dbapi describes result columns with SQLAlchemy type classes (DECIMAL,
        TIMESTAMP, ...), where Superset expects a type name: without this every result column,
        money sums included, has type None."""
        if isinstance(type_code, type) and issubclass(type_code, TypeEngine):
            return type_code.__visit_name__.upper()
        if isinstance(type_code, TypeEngine):
            return type_code.__visit_name__.upper()
        return super().get_datatype(type_code)

    @classmethod
    def get_function_names(cls, database: Any) -> list[str]:
        """Every function the server knows (DataFusion's and cdrlake's UDFs), for SQL Lab."""
        sql = "SELECT DISTINCT routine_name FROM information_schema.routines ORDER BY 1"
        try:
            return database.get_df(sql)["routine_name"].tolist()
        except Exception:  # pylint: disable=broad-except
            # Autocomplete is a convenience: an unreachable server must not break SQL Lab.
            return []

