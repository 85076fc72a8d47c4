"""The dashboards cdrlake ships, as a Superset import bundle (the ZIP of YAML files that Superset's
Dashboards > Import and `POST /api/v1/dashboard/import/` read).

They are defined here as data rather than as an exported ZIP so that a change is a reviewable
diff; `bundle()` writes the same files Superset's own export would. Every id is a uuid5 of the
object's name, so re-importing updates the objects in place instead of duplicating them.

Time columns (docs/analytics.md): `date` and `billing_period` are local (Africa/Casablanca),
`hour_start`, `start_time` and `detected_at` are UTC. Daily charts use the local dates.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import yaml

NAMESPACE = uuid.UUID("5b1c2a8e-4f0d-4c39-9a51-0c3a7d2e6f10")
DATABASE_NAME = "cdrlake"
BUNDLE_ROOT = "cdrlake_dashboards"


def uid(kind: str, name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"{kind}:{name}"))


@dataclass
class Dataset:
    name: str
    schema: str = "gold"
    sql: str | None = None  # a virtual dataset; None for the gold table of that name
    dttm: str | None = None  # the default time column
    metrics: dict[str, str] = field(default_factory=dict)
    description: str = ""


@dataclass
class Chart:
    name: str
    dataset: str
    viz: str
    params: dict[str, Any]
    width: int = 4
    height: int = 50
    # For the browser test: the chart whose figure is compared with SQL.
    checked_total: str | None = None


@dataclass
class Dashboard:
    title: str
    slug: str
    rows: list[list[Chart]]
    description: str


DATASETS = [
    Dataset(
        "invoice",
        dttm="period_start",
        metrics={
            "invoiced_total": "SUM(total_amount)",
            "net_revenue": "SUM(net_amount)",
            "invoices": "COUNT(*)",
        },
        description="One row per invoice; status issued (closed period) or provisional.",
    ),
    Dataset("report_revenue_by_plan", metrics={"net_revenue": "SUM(net_amount)"}),
    Dataset("report_revenue_by_region", metrics={"net_revenue": "SUM(net_amount)"}),
    Dataset("report_top_customers", metrics={"net_revenue": "SUM(net_amount)"}),
    Dataset(
        "report_usage_by_service",
        metrics={"charged": "SUM(charged_amount)", "billable_units": "SUM(billable_units)"},
    ),
    Dataset(
        "fact_cdr",
        dttm="date",
        metrics={"charge": "SUM(charge)", "cdrs": "COUNT(*)"},
        description="Rated CDRs; `date` is the local day, `start_time` UTC.",
    ),
    Dataset(
        "cell_hourly",
        sql=(
            "SELECT a.*, c.region, c.city, c.technology FROM gold.agg_cell_hourly a "
            "JOIN gold.dim_cell c ON a.cell_id = c.cell_id"
        ),
        dttm="hour_start",
        metrics={
            "erlangs": "SUM(erlangs)",
            "voice_calls": "SUM(voice_calls)",
            "drop_rate_pct": "100.0 * SUM(dropped_calls) / NULLIF(SUM(voice_calls), 0)",
            "avg_utilization_pct": "AVG(utilization_pct)",
            "avg_prb_pct": "AVG(avg_prb_utilization_pct)",
            "p95_latency_ms": "AVG(p95_latency_ms)",
        },
        description="gold.agg_cell_hourly with the cell's region; `hour_start` UTC, `date` local.",
    ),
    Dataset(
        "fraud_alert",
        sql="SELECT *, local_date(detected_at) AS detected_date FROM gold.fraud_alert",
        dttm="detected_date",
        metrics={"alerts": "COUNT(*)"},
        description="Fraud alerts; `detected_at` UTC, `detected_date` its local day.",
    ),
]


def _timeseries(viz: str, x: str, grain: str, metrics: list[str], groupby=()) -> dict:
    return {
        "x_axis": x,
        "time_grain_sqla": grain,
        "metrics": metrics,
        "groupby": list(groupby),
        "row_limit": 10000,
        "show_legend": True,
        "rich_tooltip": True,
        **({"stack": "Stack"} if viz == "echarts_timeseries_bar" else {}),
    }


def _bars(x: str, metrics: list[str], groupby=()) -> dict:
    """Bars over a text column (billing periods, regions): no time grain."""
    return {
        "x_axis": x,
        "metrics": metrics,
        "groupby": list(groupby),
        "row_limit": 10000,
        "show_legend": True,
        "x_axis_sort_asc": True,
        "stack": "Stack",
    }


def _big(metric: str, subheader: str, fmt: str = ",d") -> dict:
    return {"metric": metric, "subheader": subheader, "y_axis_format": fmt}


def _table(groupby: list[str], metrics: list[str], order_desc=True, limit=50) -> dict:
    return {
        "query_mode": "aggregate",
        "groupby": groupby,
        "metrics": metrics,
        "all_columns": [],
        "timeseries_limit_metric": metrics[0] if metrics else None,
        "order_desc": order_desc,
        "row_limit": limit,
    }


def _raw_table(columns: list[str], order_by: str, limit=100) -> dict:
    return {
        "query_mode": "raw",
        "all_columns": columns,
        "order_by_cols": [f'["{order_by}", false]'],
        "row_limit": limit,
    }


REVENUE = Dashboard(
    "cdrlake: Revenue and billing",
    "cdrlake-revenue",
    [
        [
            Chart(
                "Invoiced total (all periods)",
                "invoice",
                "big_number_total",
                _big("invoiced_total", "MAD incl. VAT, issued and provisional", ",.2f"),
                checked_total="SELECT SUM(total_amount) FROM gold.invoice",
            ),
            Chart(
                "Invoiced by billing period: issued vs provisional",
                "invoice",
                "echarts_timeseries_bar",
                _bars("billing_period", ["invoiced_total"], ["status"]),
                width=8,
            ),
        ],
        [
            Chart(
                "Net revenue by plan",
                "report_revenue_by_plan",
                "echarts_timeseries_bar",
                _bars("billing_period", ["net_revenue"], ["plan_name"]),
                width=6,
            ),
            Chart(
                "Net revenue by region",
                "report_revenue_by_region",
                "pie",
                {"groupby": ["region"], "metric": "net_revenue", "row_limit": 100},
                width=6,
            ),
        ],
        [
            Chart(
                "Daily charges (local days)",
                "fact_cdr",
                "echarts_timeseries_line",
                _timeseries("echarts_timeseries_line", "date", "P1D", ["charge"], ["service"]),
                width=6,
            ),
            Chart(
                "Usage by service",
                "report_usage_by_service",
                "table",
                _table(["billing_period", "service", "roaming"], ["charged", "billable_units"]),
                width=6,
            ),
        ],
        [
            Chart(
                "Top customers",
                "report_top_customers",
                "table",
                _table(["billing_period", "customer_id", "msisdn_masked", "status"], ["net_revenue"]),
                width=12,
            ),
        ],
    ],
    "Invoices and revenue by period, plan and region (amounts in MAD; periods are local months).",
)

NETWORK = Dashboard(
    "cdrlake: Network",
    "cdrlake-network",
    [
        [
            Chart(
                "Voice calls (all cells)",
                "cell_hourly",
                "big_number_total",
                _big("voice_calls", "MO and MT calls at their first cell"),
                checked_total="SELECT SUM(voice_calls) FROM gold.agg_cell_hourly",
            ),
            Chart(
                "Hourly erlangs by region (UTC hours)",
                "cell_hourly",
                "echarts_timeseries_line",
                _timeseries("echarts_timeseries_line", "hour_start", "PT1H", ["erlangs"], ["region"]),
                width=8,
            ),
        ],
        [
            Chart(
                "Daily utilization by region (local days)",
                "cell_hourly",
                "echarts_timeseries_line",
                _timeseries("echarts_timeseries_line", "date", "P1D", ["avg_utilization_pct"], ["region"]),
                width=6,
            ),
            Chart(
                "Drop rate by region (%)",
                "cell_hourly",
                "echarts_timeseries_bar",
                _bars("region", ["drop_rate_pct"]),
                width=6,
            ),
        ],
        [
            Chart(
                "PRB utilization and P95 latency (local days)",
                "cell_hourly",
                "echarts_timeseries_line",
                _timeseries("echarts_timeseries_line", "date", "P1D", ["avg_prb_pct", "p95_latency_ms"]),
                width=6,
            ),
            Chart(
                "Busiest cells",
                "cell_hourly",
                "table",
                _table(["cell_id", "region", "technology"], ["erlangs", "avg_utilization_pct"], limit=25),
                width=6,
            ),
        ],
    ],
    "Cell traffic and radio KPIs from gold.agg_cell_hourly.",
)

FRAUD = Dashboard(
    "cdrlake: Fraud",
    "cdrlake-fraud",
    [
        [
            Chart(
                "Fraud alerts (all)",
                "fraud_alert",
                "big_number_total",
                _big("alerts", "alerts raised by the fraud rules"),
                checked_total="SELECT COUNT(*) FROM gold.fraud_alert",
            ),
            Chart(
                "Alerts by rule and day (local days)",
                "fraud_alert",
                "echarts_timeseries_bar",
                _timeseries("echarts_timeseries_bar", "detected_date", "P1D", ["alerts"], ["rule"]),
                width=8,
            ),
        ],
        [
            Chart(
                "Alerts by severity",
                "fraud_alert",
                "pie",
                {"groupby": ["severity"], "metric": "alerts", "row_limit": 100},
                width=4,
            ),
            Chart(
                "Latest alerts (masked numbers)",
                "fraud_alert",
                "table",
                _raw_table(
                    ["detected_at", "rule", "severity", "customer_id", "served_msisdn", "evidence"],
                    "detected_at",
                ),
                width=8,
                height=60,
            ),
        ],
    ],
    "Alerts of gold.fraud_alert; numbers are masked, customers reached through customer_id.",
)

DASHBOARDS = [REVENUE, NETWORK, FRAUD]


def charts(boards: list[Dashboard] = DASHBOARDS) -> list[Chart]:
    return [c for d in boards for row in d.rows for c in row]


def masked_uri(uri: str) -> tuple[str, str | None]:
    """The URI with its password replaced as Superset exports it, and the password."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri, None
    netloc = f"{parts.username}:XXXXXXXXXX@{parts.hostname}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc)), parts.password


def _database(uri: str) -> dict:
    return {
        "database_name": DATABASE_NAME,
        "sqlalchemy_uri": uri,
        "cache_timeout": None,
        "expose_in_sqllab": True,
        "allow_run_async": False,
        "allow_ctas": False,
        "allow_cvas": False,
        "allow_dml": False,
        "allow_file_upload": False,
        "extra": {"allows_virtual_table_explore": True},
        "uuid": uid("database", DATABASE_NAME),
        "version": "1.0.0",
    }


def _dataset(d: Dataset) -> dict:
    return {
        "table_name": d.name,
        "main_dttm_col": d.dttm,
        "description": d.description or None,
        "default_endpoint": None,
        "offset": 0,
        "cache_timeout": None,
        "schema": d.schema,
        "sql": d.sql,
        "params": None,
        "template_params": None,
        "filter_select_enabled": True,
        "fetch_values_predicate": None,
        "extra": None,
        "normalize_columns": False,
        "uuid": uid("dataset", d.name),
        # Columns are read from the server after import (dataset refresh), so a change of a gold
        # table needs no edit here.
        "columns": [],
        "metrics": [
            {
                "metric_name": name,
                "verbose_name": name.replace("_", " "),
                "metric_type": None,
                "expression": expression,
                "description": None,
                "d3format": None,
                "extra": None,
                "warning_text": None,
            }
            for name, expression in d.metrics.items()
        ],
        "version": "1.0.0",
        "database_uuid": uid("database", DATABASE_NAME),
    }


def _chart(c: Chart) -> dict:
    params = {"viz_type": c.viz, "adhoc_filters": [], **c.params}
    return {
        "slice_name": c.name,
        "description": None,
        "certified_by": None,
        "certification_details": None,
        "viz_type": c.viz,
        "params": params,
        "query_context": None,
        "cache_timeout": None,
        "uuid": uid("chart", c.name),
        "version": "1.0.0",
        "dataset_uuid": uid("dataset", c.dataset),
    }


def _dashboard(d: Dashboard, all_charts: list[Chart]) -> dict:
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"children": ["GRID_ID"], "id": "ROOT_ID", "type": "ROOT"},
        "GRID_ID": {"children": [], "id": "GRID_ID", "parents": ["ROOT_ID"], "type": "GRID"},
        "HEADER_ID": {"id": "HEADER_ID", "meta": {"text": d.title}, "type": "HEADER"},
    }
    for r, row in enumerate(d.rows):
        row_id = f"ROW-{r}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {
            "children": [],
            "id": row_id,
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
            "parents": ["ROOT_ID", "GRID_ID"],
            "type": "ROW",
        }
        for k, c in enumerate(row):
            chart_id = f"CHART-{r}-{k}"
            position[row_id]["children"].append(chart_id)
            position[chart_id] = {
                "children": [],
                "id": chart_id,
                "meta": {
                    # The id in the exporting Superset; the import maps it through `uuid`.
                    "chartId": all_charts.index(c) + 1,
                    "height": c.height,
                    "width": c.width,
                    "sliceName": c.name,
                    "uuid": uid("chart", c.name),
                },
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "type": "CHART",
            }
    return {
        "dashboard_title": d.title,
        "description": d.description,
        "css": "",
        "slug": d.slug,
        "certified_by": "",
        "certification_details": "",
        "published": True,
        "uuid": uid("dashboard", d.slug),
        "position": position,
        "metadata": {
            "color_scheme": "supersetColors",
            "refresh_frequency": 0,
            "expanded_slices": {},
            "label_colors": {},
            "timed_refresh_immune_slices": [],
            "cross_filters_enabled": False,
            "native_filter_configuration": [],
        },
        "version": "1.0.0",
    }


def _file_name(name: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in name).strip("_")


def files(uri: str, boards: list[Dashboard] = DASHBOARDS) -> dict[str, dict]:
    """Every YAML file of the bundle, by its path inside the ZIP."""
    out = {
        "metadata.yaml": {
            "version": "1.0.0",
            "type": "Dashboard",
            "timestamp": datetime.now(timezone.utc).isoformat(),
        },
        f"databases/{DATABASE_NAME}.yaml": _database(uri),
    }
    for d in DATASETS:
        out[f"datasets/{DATABASE_NAME}/{d.name}.yaml"] = _dataset(d)
    all_charts = charts(boards)
    for c in all_charts:
        out[f"charts/{_file_name(c.name)}.yaml"] = _chart(c)
    for d in boards:
        out[f"dashboards/{d.slug}.yaml"] = _dashboard(d, all_charts)
    return out


def bundle(uri: str, boards: list[Dashboard] = DASHBOARDS) -> bytes:
    """The import ZIP for cdrlake at `uri` (a password in it is replaced by XXXXXXXXXX, as in
    Superset's own exports; pass it to the import as `passwords`)."""
    masked, _ = masked_uri(uri)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for path, content in files(masked, boards).items():
            z.writestr(f"{BUNDLE_ROOT}/{path}", yaml.safe_dump(content, sort_keys=False))
    return buffer.getvalue()
