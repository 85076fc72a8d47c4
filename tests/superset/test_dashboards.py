"""The shipped dashboards, as a user sees them: rendered by Superset in headless Chromium, every
chart with data and no error panel, one figure per dashboard equal to the same figure in SQL, and
every chart's query answered again over Superset's REST API. A deliberately broken chart shows the
check can fail. Screenshots go to $CDRLAKE_SCREENSHOTS (docs/images/ to refresh the docs)."""
import os
import pathlib
from decimal import Decimal

import pytest
import sqlalchemy

from cdrlake_superset import dashboards
from cdrlake_superset.setup import import_dashboards

from conftest import WORK
from dashboard_check import render

SCREENSHOTS = pathlib.Path(os.environ.get("CDRLAKE_SCREENSHOTS") or WORK / "screenshots")


def chart_names(superset, dashboard_id) -> dict[int, str]:
    return {c["id"]: c["slice_name"] for c in superset.get(f"/api/v1/dashboard/{dashboard_id}/charts")["result"]}


def dashboard_id(superset, slug) -> int:
    return superset.get(f"/api/v1/dashboard/{slug}")["result"]["id"]


@pytest.fixture(scope="module")
def rendered(superset, browser_context):
    out = {}
    for board in dashboards.DASHBOARDS:
        id_ = dashboard_id(superset, board.slug)
        names = chart_names(superset, id_)
        shot = SCREENSHOTS / f"superset-{board.slug.removeprefix('cdrlake-')}.png"
        out[board.slug] = (render(browser_context, superset.url, id_, set(names), shot), names)
    return out


def test_every_dashboard_renders_every_chart_with_data_and_no_error_panel(rendered):
    problems = []
    for board in dashboards.DASHBOARDS:
        page, names = rendered[board.slug]
        assert len(names) == sum(len(row) for row in board.rows), f"{board.slug}: {names}"
        problems += page.problems(names)
    assert not problems, "\n".join(problems)


def test_time_series_charts_are_among_them(rendered, superset):
    timeseries = [c for c in dashboards.charts() if c.viz.startswith("echarts_timeseries")]
    assert len(timeseries) >= 5
    drawn = set()
    for page, names in rendered.values():
        drawn |= {names[i] for i, data in page.charts.items() if not data.problems()}
    assert {c.name for c in timeseries} <= drawn


def test_every_chart_query_answers_again_over_rest(rendered, superset):
    """The requests the browser sent, replayed through the REST API without Superset's cache."""
    failures = []
    for page, names in rendered.values():
        for slice_id, data in page.charts.items():
            response = superset.post("/api/v1/chart/data", json={**data.request, "force": True})
            for result in response["result"]:
                if result.get("status") != "success" or not result.get("rowcount"):
                    failures.append(f"{names[slice_id]}: {result.get('status')} {result.get('error')}")
    assert not failures, failures


@pytest.mark.parametrize("board", dashboards.DASHBOARDS, ids=lambda b: b.slug)
def test_one_figure_per_dashboard_equals_sql(board, rendered, cdrlake):
    checked = [c for row in board.rows for c in row if c.checked_total]
    assert len(checked) == 1
    with sqlalchemy.create_engine(cdrlake).connect() as db:
        want = Decimal(str(db.exec_driver_sql(checked[0].checked_total).fetchone()[0]))
    page, _ = rendered[board.slug]
    shown = Decimal(page.big_number.replace(",", ""))
    places = Decimal(1).scaleb(-max(0, -shown.as_tuple().exponent))
    assert shown == want.quantize(places), f"{board.slug}: page shows {page.big_number}, SQL gives {want}"
    assert want > 0, "the sample lakehouse must give the figure something to show"


def test_the_browser_talked_to_superset_only(rendered, browser_context):
    assert browser_context.outside == []


def test_a_broken_chart_is_caught(superset, browser_context, cdrlake):
    good = dashboards.REVENUE.rows[0][0]
    broken = dashboards.Chart(
        "Deliberately broken",
        "invoice",
        "big_number_total",
        {"metric": {"expressionType": "SQL", "sqlExpression": "SUM(no_such_column)", "label": "broken"}},
    )
    board = dashboards.Dashboard("cdrlake test: broken chart", "cdrlake-broken", [[good, broken]], "")
    id_ = import_dashboards(superset, cdrlake, [board])["cdrlake-broken"]
    names = chart_names(superset, id_)
    page = render(browser_context, superset.url, id_, set(names), WORK / "broken.png")
    problems = page.problems(names)
    assert any("'Deliberately broken'" in p and "no_such_column" in p for p in problems), problems
    assert any("error panel" in p and "no_such_column" in p for p in problems), problems
    assert not [p for p in problems if good.name in p], problems
