"""`python -m cdrlake_superset setup ...` registers cdrlake and its dashboards in a Superset;
`python -m cdrlake_superset export FILE.zip --cdrlake URI` writes the import bundle instead."""

from __future__ import annotations

import argparse
import os
import sys

from . import dashboards
from .setup import Superset, SupersetError, import_dashboards, wait_until_up


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cdrlake_superset")
    sub = parser.add_subparsers(dest="command", required=True)
    setup = sub.add_parser("setup", help="register cdrlake and import the dashboards")
    setup.add_argument("--superset", default="http://127.0.0.1:8088", help="Superset's URL")
    setup.add_argument("--cdrlake", required=True, help="datafusion://USER:PASSWORD@HOST:PORT?insecure=true")
    setup.add_argument("--wait", type=float, default=300, help="seconds to wait for Superset to start")
    export = sub.add_parser("export", help="write the dashboards' import ZIP")
    export.add_argument("file")
    export.add_argument("--cdrlake", required=True, help="the URI the bundle's database points at")
    args = parser.parse_args(argv)

    if args.command == "export":
        with open(args.file, "wb") as f:
            f.write(dashboards.bundle(args.cdrlake))
        print(f"wrote {args.file}: {len(dashboards.DASHBOARDS)} dashboards, {len(dashboards.charts())} charts")
        return 0

    password = os.environ.get("SUPERSET_ADMIN_PASSWORD")
    if not password:
        print("SUPERSET_ADMIN_PASSWORD is not set", file=sys.stderr)
        return 2
    try:
        wait_until_up(args.superset, args.wait)
        superset = Superset(args.superset, os.environ.get("SUPERSET_ADMIN_USER", "admin"), password)
        ids = import_dashboards(superset, args.cdrlake)
    except SupersetError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    for slug, id_ in ids.items():
        print(f"dashboard {slug}: {args.superset.rstrip('/')}/superset/dashboard/{id_}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
