"""Superset configuration for a deployment next to cdrlake (docker-compose.yml and the browser test
use this file through SUPERSET_CONFIG_PATH).

Secrets come from the environment, never from this file. Superset's pages are told not to load
anything from outside hosts: its front end draws a telemetry pixel and fetches web fonts and map
tiles from the internet by default; here the browser's content security policy refuses them.
"""

import os

SECRET_KEY = os.environ.get("SUPERSET_SECRET_KEY", "")
if len(SECRET_KEY) < 32:
    raise RuntimeError("set SUPERSET_SECRET_KEY to a random string of 32 characters or more")

# Superset's own metadata (users, dashboards): SQLite next to Superset unless a URI is given.
SQLALCHEMY_DATABASE_URI = os.environ.get(
    "SUPERSET_DATABASE_URI",
    "sqlite:///" + os.path.join(os.environ.get("SUPERSET_HOME", os.path.expanduser("~/.superset")), "superset.db"),
)

# Keep data in the browser and queries on loopback: no web fonts, telemetry pixels or map tiles.
THEME_FONT_URL_ALLOWED_DOMAINS: list[str] = []
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "base-uri": ["'self'"],
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "font-src": ["'self'", "data:"],
        "script-src": ["'self'", "'strict-dynamic'"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "session_cookie_secure": False,
}

# cdrlake answers in seconds; a longer wait is a stuck query, not a slow one.
SUPERSET_WEBSERVER_TIMEOUT = 120
SQLLAB_TIMEOUT = 120
