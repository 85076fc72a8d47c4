"""Logging in through ADBC: user name and password, bearer tokens, roles."""
import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pytest


def connect(uri, user, password):
    return flightsql.connect(uri, db_kwargs={"username": user, "password": password})


def test_analyst_reads_gold_and_system_only(secured_server):
    with connect(secured_server, "ana", "ana-pw") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM system.model_runs")
        assert cur.fetchone()[0] > 0
        with pytest.raises(adbc_driver_manager.Error, match="may not read bronze.plan"):
            cur.execute("SELECT * FROM bronze.plan")


def test_engineer_reads_everything(secured_server):
    with connect(secured_server, "eng", "eng-pw") as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM bronze.plan")
        assert cur.fetchone() == (3,)


def test_wrong_password_and_no_credentials_are_refused(secured_server):
    with pytest.raises(adbc_driver_manager.Error, match="wrong user name or password"):
        with connect(secured_server, "ana", "nope") as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")
    with pytest.raises(adbc_driver_manager.Error, match="(?i)credentials|unauthenticated"):
        with flightsql.connect(secured_server) as conn, conn.cursor() as cur:
            cur.execute("SELECT 1")


def test_sqlalchemy_uri_without_user_is_told_to_add_one(secured_server):
    """flightsql-dbapi sends `Bearer None` when the URI names no user: Superset shows the message."""
    import sqlalchemy

    host_port = secured_server.removeprefix("grpc://")
    engine = sqlalchemy.create_engine(f"datafusion://{host_port}?insecure=true")
    with pytest.raises(Exception, match="no credentials.*USER:PASSWORD"):
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT 1").fetchall()
    engine = sqlalchemy.create_engine(f"datafusion://ana:ana-pw@{host_port}?insecure=true")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").fetchall() == [(1,)]
