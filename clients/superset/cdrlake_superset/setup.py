"""Registers cdrlake in a running Superset and imports the shipped dashboards, through Superset's
REST API: the one set-up step for docker-compose.yml, docs/clients.md and the browser test.

    python -m cdrlake_superset setup --superset http://127.0.0.1:8088 \
        --cdrlake 'datafusion://ana:PASSWORD@127.0.0.1:50051?insecure=true'

The Superset admin password comes from SUPERSET_ADMIN_PASSWORD (user SUPERSET_ADMIN_USER, default
admin), never from the command line.
"""

from __future__ import annotations

import json
import time
from typing import Any

import requests

from . import dashboards


class SupersetError(RuntimeError):
    pass


class Superset:
    """A logged-in session on Superset's REST API (JWT plus the CSRF token its POSTs need)."""

    def __init__(self, url: str, user: str, password: str, timeout: float = 120):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()
        login = self.http.post(
            f"{self.url}/api/v1/security/login",
            json={"username": user, "password": password, "provider": "db", "refresh": True},
            timeout=timeout,
        )
        if login.status_code != 200:
            raise SupersetError(f"Superset login as {user} failed: HTTP {login.status_code} {login.text[:200]}")
        self.http.headers["Authorization"] = f"Bearer {login.json()['access_token']}"
        csrf = self.get("/api/v1/security/csrf_token/")["result"]
        self.http.headers.update({"X-CSRFToken": csrf, "Referer": self.url})

    def _check(self, response: requests.Response, what: str) -> Any:
        if response.status_code >= 400:
            if response.headers.get("content-type", "").startswith("application/json"):
                detail = response.text[:1000]
            else:  # an HTML error page: the reason is in Superset's log
                detail = "(see Superset's log for the reason)"
            raise SupersetError(f"{what}: HTTP {response.status_code} {detail}")
        return response.json() if response.content else None

    def get(self, path: str, **params) -> Any:
        return self._check(self.http.get(self.url + path, params=params, timeout=self.timeout), f"GET {path}")

    def post(self, path: str, **kwargs) -> Any:
        return self._check(self.http.post(self.url + path, timeout=self.timeout, **kwargs), f"POST {path}")

    def put(self, path: str, **kwargs) -> Any:
        return self._check(self.http.put(self.url + path, timeout=self.timeout, **kwargs), f"PUT {path}")

    def find(self, kind: str, column: str, value: str) -> list[dict]:
        q = f"(filters:!((col:{column},opr:eq,value:'{value}')),page_size:100)"
        return self.get(f"/api/v1/{kind}/", q=q)["result"]


def import_dashboards(
    superset: Superset, cdrlake_uri: str, boards: list[dashboards.Dashboard] = dashboards.DASHBOARDS
) -> dict[str, int]:
    """Imports (or updates) the cdrlake database, datasets, charts and dashboards; returns the
    dashboards' ids by slug."""
    _, password = dashboards.masked_uri(cdrlake_uri)
    passwords = {f"databases/{dashboards.DATABASE_NAME}.yaml": password} if password else {}
    superset.post(
        "/api/v1/dashboard/import/",
        files={"formData": ("cdrlake_dashboards.zip", dashboards.bundle(cdrlake_uri, boards), "application/zip")},
        data={"overwrite": "true", "passwords": json.dumps(passwords)},
    )
    # The bundle leaves the column lists out: read them from the server now.
    for d in dashboards.DATASETS:
        for row in superset.find("dataset", "table_name", d.name):
            superset.put(f"/api/v1/dataset/{row['id']}/refresh")
    ids = {}
    for d in boards:
        found = superset.find("dashboard", "slug", d.slug)
        if not found:
            raise SupersetError(f"dashboard {d.slug} missing after the import")
        ids[d.slug] = found[0]["id"]
    return ids


def wait_until_up(url: str, seconds: float = 300) -> None:
    deadline = time.time() + seconds
    while True:
        try:
            if requests.get(url.rstrip("/") + "/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.time() > deadline:
            raise SupersetError(f"Superset at {url} did not answer /health within {seconds:.0f} s")
        time.sleep(2)
