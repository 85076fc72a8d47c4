"""ADBC (Python DB-API over adbc-driver-flightsql) against the real cdrlake server."""
from decimal import Decimal

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pytest


@pytest.fixture
def conn(server):
    with flightsql.connect(server) as c:
        yield c


def test_query_with_decimal_money(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT plan_id, monthly_fee FROM bronze.plan ORDER BY plan_id")
        assert cur.fetchall() == [("P_BASIC", Decimal("49.00")), ("P_MAX", Decimal("199.00")), ("P_PLUS", Decimal("99.00"))]


def test_prepared_statement_with_parameters(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM bronze.tariff_rate WHERE zone = $1", parameters=("ROAMING",))
        assert cur.fetchone() == (4,)
        cur.execute("SELECT count(*) AS n FROM bronze.tariff_rate WHERE zone = $1", parameters=("HOME",))
        assert cur.fetchone() == (1,)


def test_question_mark_parameters_as_the_db_api_writes_them(conn):
    # adbc_driver_flightsql.dbapi.paramstyle is "qmark"; JDBC's PreparedStatement uses `?` too.
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) AS n FROM bronze.tariff_rate WHERE zone = ? AND service <> ?", parameters=("ROAMING", "?"))
        assert cur.fetchone() == (4,)
        cur.execute("SELECT count(*) AS n, '?' AS mark FROM bronze.tariff_rate WHERE zone = ?", parameters=("HOME",))
        assert cur.fetchone() == (1, "?")


def test_arrow_fetch_of_generated_cdrs(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT served_msisdn, release_time FROM bronze.voice_cdr")
        table = cur.fetch_arrow_table()
        assert table.num_rows > 100
        assert str(table.schema.field("served_msisdn").type) == "string"


def test_get_objects_and_table_schema(conn):
    objects = conn.adbc_get_objects(depth="all", catalog_filter="cdrlake").read_all().to_pylist()
    assert [o["catalog_name"] for o in objects] == ["cdrlake"]
    schemas = {s["db_schema_name"]: s for s in objects[0]["catalog_db_schemas"]}
    assert set(schemas) == {"bronze", "silver", "gold", "system"}
    bronze_tables = {t["table_name"] for t in schemas["bronze"]["db_schema_tables"]}
    assert {"plan", "tariff_rate", "voice_cdr", "crm_customer"} <= bronze_tables
    plan = next(t for t in schemas["bronze"]["db_schema_tables"] if t["table_name"] == "plan")
    assert [c["column_name"] for c in plan["table_columns"]][:3] == ["plan_id", "name", "monthly_fee"]
    schema = conn.adbc_get_table_schema("plan", catalog_filter="cdrlake", db_schema_filter="bronze")
    assert schema.names == ["plan_id", "name", "monthly_fee", "voice_allowance_s", "sms_allowance", "data_allowance_mb"]


def test_errors_are_clear_and_the_server_keeps_serving(conn):
    with conn.cursor() as cur:
        with pytest.raises(adbc_driver_manager.Error, match="SELEC"):
            cur.execute("SELEC 1")
        with pytest.raises(adbc_driver_manager.Error, match="nope"):
            cur.execute("SELECT * FROM bronze.nope")
        cur.execute("SELECT 1 AS one")
        assert cur.fetchone() == (1,)
