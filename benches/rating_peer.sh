#!/usr/bin/env bash
# The rating peer benchmark (issue #25): cdrlake's gold.rated_cdr beside DuckDB on the same
# silver data. Run by hand: builds the release binary, puts DuckDB in its own venv, then
# benches/rating_peer.py with the sizes given (default 10M and 30M CDRs; about 3 GB of disk per
# 10M under bench-work/).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${CDRLAKE_BENCH_VENV:-$HOME/.cache/cdrlake-bench-venv}"
if [ ! -x "$VENV/bin/python" ] || ! "$VENV/bin/python" -c 'import duckdb' 2>/dev/null; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check 'duckdb==2.0.1'
fi
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-target}"
# With the benches, so the features (and the artifacts) are those `cargo bench` builds.
cargo build --release --bin cdrlake --benches
exec "$VENV/bin/python" benches/rating_peer.py --cdrlake "$CARGO_TARGET_DIR/release/cdrlake" "$@"
