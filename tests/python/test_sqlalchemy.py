"""flightsql-dbapi through SQLAlchemy, the way Superset talks to cdrlake."""
import sqlalchemy
from sqlalchemy import inspect, text


def engine_for(server):
    host_port = server.removeprefix("grpc://")
    return sqlalchemy.create_engine(f"datafusion://{host_port}?insecure=true")


def test_inspect_schemas_tables_columns(server):
    engine = engine_for(server)
    inspector = inspect(engine)
    assert {"bronze", "silver", "gold", "system"} <= set(inspector.get_schema_names())
    assert {"plan", "tariff_rate", "voice_cdr"} <= set(inspector.get_table_names(schema="bronze"))
    columns = [c["name"] for c in inspector.get_columns("plan", schema="bronze")]
    assert columns[:3] == ["plan_id", "name", "monthly_fee"]


def test_query(server):
    engine = engine_for(server)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT zone, count(*) AS n FROM bronze.tariff_destination GROUP BY zone ORDER BY zone")).fetchall()
    assert rows[0] == ("HIGH_RISK", 3)
    assert len(rows) == 10
