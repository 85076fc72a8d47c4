"""ADBC (Python DB-API) figures against a running `cdrlake serve`: fetch throughput and point-lookup
latency, as Superset's and notebooks' Python clients see them. Run by hand, never in CI:

    cdrlake --lakehouse /tmp/pq serve --listen 127.0.0.1:50777 &
    python benches/adbc.py grpc://127.0.0.1:50777 gold.bench id 1000

The table needs an integer key column; values 1..10,000,000 are looked up at random.
"""

import random
import statistics
import sys
import time

import adbc_driver_flightsql.dbapi as flight_sql


def main() -> None:
    uri, table, key, lookups = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    with flight_sql.connect(uri) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        cur.execute(f"SELECT * FROM {table}")
        result = cur.fetch_arrow_table()
        seconds = time.perf_counter() - started
        # Value bytes: offsets and validity bitmaps are not data.
        values = sum(
            (chunk.buffers()[2].size if chunk.type in ("string", "binary") else chunk.nbytes)
            for column in result.columns
            for chunk in column.chunks
        )
        print(f"fetch: {result.num_rows:,} rows, {values / 1e6:,.0f} MB of values in {seconds:.2f} s = {values / 1e6 / seconds:,.0f} MB/s")

        rng = random.Random(42)
        times = []
        for _ in range(lookups):
            started = time.perf_counter()
            cur.execute(f"SELECT * FROM {table} WHERE {key} = $1", parameters=(rng.randint(1, 10_000_000),))
            rows = cur.fetchall()
            times.append((time.perf_counter() - started) * 1000)
            assert len(rows) == 1, rows
        times.sort()
        p95 = times[int(len(times) * 0.95) - 1]
        print(f"point lookups: {lookups}, P50 {statistics.median(times):.1f} ms, P95 {p95:.1f} ms, max {times[-1]:.1f} ms")


if __name__ == "__main__":
    main()
