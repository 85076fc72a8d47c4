"""What a user sees on a Superset dashboard, checked in a real browser: each chart's data request
as the front end sends it (captured, so it can be replayed over REST), the error panels on the
page, the big-number figure, and a screenshot."""
from __future__ import annotations

import pathlib
import time
from dataclasses import dataclass, field

# Superset draws a failed chart as an antd alert; a loading chart as its spinner.
ERROR_PANEL = "[role=alert], .ant-alert-error"
SPINNER = "img.loading, [data-test=loading-indicator], .ant-spin-spinning"


@dataclass
class ChartData:
    slice_id: int
    status: int
    request: dict
    response: dict

    def problems(self) -> list[str]:
        """Why this chart shows no data, or nothing when it has rows."""
        if self.status != 200:
            return [f"HTTP {self.status}: {str(self.response.get('message') or self.response)[:300]}"]
        out = []
        for result in self.response.get("result", []):
            if result.get("status") != "success" or result.get("error"):
                out.append(f"query {result.get('status')}: {str(result.get('error'))[:300]}")
            elif not result.get("rowcount"):
                out.append("query returned no rows")
        return out or ([] if self.response.get("result") else ["no result"])


@dataclass
class Rendered:
    dashboard: str
    charts: dict[int, ChartData] = field(default_factory=dict)
    error_panels: list[str] = field(default_factory=list)
    big_number: str | None = None
    screenshot: pathlib.Path | None = None

    def problems(self, names: dict[int, str]) -> list[str]:
        out = [f"{self.dashboard}: chart '{names[i]}' sent no data request" for i in names if i not in self.charts]
        for i, data in sorted(self.charts.items()):
            out += [f"{self.dashboard}: chart '{names.get(i, i)}': {p}" for p in data.problems()]
        out += [f"{self.dashboard}: error panel on the page: {text[:300]}" for text in self.error_panels]
        return out


def render(context, base_url: str, dashboard_id: int, chart_ids: set[int], screenshot: pathlib.Path,
           timeout: float = 240) -> Rendered:
    """Opens the dashboard, waits until every chart has its data and has drawn, then reads the page."""
    page = context.new_page()
    rendered = Rendered(dashboard=str(dashboard_id))

    def on_response(response):
        request = response.request
        if request.method != "POST" or "/api/v1/chart/data" not in response.url:
            return
        body = request.post_data_json or {}
        slice_id = (body.get("form_data") or {}).get("slice_id")
        try:
            payload = response.json()
        except Exception:  # an HTML error page
            payload = {"message": response.text()[:300]}
        rendered.charts[slice_id] = ChartData(slice_id, response.status, body, payload)

    page.on("response", on_response)
    page.goto(f"{base_url}/superset/dashboard/{dashboard_id}/", wait_until="domcontentloaded")
    deadline = time.time() + timeout
    while not chart_ids <= rendered.charts.keys() and time.time() < deadline:
        page.wait_for_timeout(500)
    # Data is in; wait for the charts to draw it (or to draw their error).
    while page.locator(SPINNER).count() and time.time() < deadline:
        page.wait_for_timeout(500)
    page.wait_for_timeout(1500)
    rendered.error_panels = page.locator(ERROR_PANEL).all_inner_texts()
    header = page.locator(".header-line")
    rendered.big_number = header.first.inner_text() if header.count() else None
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(screenshot), full_page=True)
    rendered.screenshot = screenshot
    page.close()
    return rendered
