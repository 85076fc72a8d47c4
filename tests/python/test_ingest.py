"""ADBC bulk ingest into bronze over Flight SQL (CommandStatementIngest)."""
import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pyarrow as pa
import pytest

VOICE_COLUMNS = [
    "record_type", "recording_entity", "call_reference", "sequence_number", "served_imsi", "served_imei",
    "served_msisdn", "other_party", "other_party_ton", "seizure_time", "answer_time", "release_time",
    "duration_s", "cause_for_term", "lac", "cell_id", "visited_mccmnc",
]


def voice_rows(n, start=0):
    columns = {c: [f"{c}-{start + i}" for i in range(n)] for c in VOICE_COLUMNS}
    columns["duration_s"] = pa.array([60 + i for i in range(n)], pa.int64())  # typed: lands as text
    return pa.table(columns)


def test_ingest_creates_then_appends_with_metadata(server):
    with flightsql.connect(server) as conn, conn.cursor() as cur:
        assert cur.adbc_ingest("msc_stream", voice_rows(3), mode="create_append", db_schema_name="bronze") == 3
        assert cur.adbc_ingest("msc_stream", voice_rows(2, 10), mode="append", db_schema_name="bronze") == 2
        cur.execute(
            "SELECT count(*), count(DISTINCT _batch_id), min(_source), max(_row_number), "
            "arrow_typeof(min(duration_s)) FROM bronze.msc_stream"
        )
        count, batches, source, last_row, text_type = cur.fetchone()
        assert (count, batches, source, last_row) == (5, 2, "flight:demo", 3)
        assert text_type in ("Utf8", "Utf8View"), "typed input lands as text"


def test_contract_tables_are_checked(server):
    with flightsql.connect(server) as conn, conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.Error, match="missing column"):
            cur.adbc_ingest("voice_cdr", pa.table({"record_type": ["MOC"]}), mode="append", db_schema_name="bronze")
        cur.execute("SELECT count(*) FROM bronze.voice_cdr")
        before = cur.fetchone()[0]
        assert cur.adbc_ingest("voice_cdr", voice_rows(4), mode="append", db_schema_name="bronze") == 4
        cur.execute("SELECT count(*) FROM bronze.voice_cdr")
        assert cur.fetchone()[0] == before + 4


def test_bronze_is_append_only_and_analysts_may_not_ingest(server, secured_server):
    with flightsql.connect(server) as conn, conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.Error, match="append-only"):
            cur.adbc_ingest("voice_cdr", voice_rows(1), mode="replace", db_schema_name="bronze")
        # A seed is the model runner's: no client ingests into it.
        with pytest.raises(adbc_driver_manager.Error, match="only `cdrlake run` writes it"):
            cur.adbc_ingest("plan", pa.table({"plan_id": ["X"]}), mode="append", db_schema_name="bronze")
        with pytest.raises(adbc_driver_manager.Error, match="lands in bronze"):
            cur.adbc_ingest("x", pa.table({"a": ["1"]}), mode="create_append", db_schema_name="gold")
    with flightsql.connect(secured_server, db_kwargs={"username": "ana", "password": "ana-pw"}) as conn, conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.Error, match="engineer role"):
            cur.adbc_ingest("msc_stream", voice_rows(1), mode="append", db_schema_name="bronze")
