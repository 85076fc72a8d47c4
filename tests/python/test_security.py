"""The server treats every client as hostile: each class of attack reported against it, tried
through real clients (ADBC and raw pyarrow.flight), is refused and leaves its target unchanged
(settings of other clients, files on disk, Delta versions, views), and the server keeps serving."""
import pathlib
import time

import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pyarrow.flight as flight
import pytest

import conftest
from test_pyarrow_flight import field, statement_query, varint

LAKE = pathlib.Path(conftest.WORK) / "lake"


def login(uri, user, password):
    return flightsql.connect(uri, db_kwargs={"username": user, "password": password})


def rows(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


def refused(conn, sql, match):
    with pytest.raises(adbc_driver_manager.Error, match=match):
        rows(conn, sql)


def delta_version(schema, table):
    return len(list((LAKE / schema / table / "_delta_log").glob("*.json")))


def test_one_clients_settings_do_not_reach_another(server, secured_server):
    show = "SHOW datafusion.execution.batch_size"
    for a, b in [
        (flightsql.connect(server), flightsql.connect(server)),
        (login(secured_server, "ana", "ana-pw"), login(secured_server, "ana", "ana-pw")),
    ]:
        with a, b:
            default = rows(b, show)[0][1]
            assert rows(a, "SET datafusion.execution.batch_size = 17") == [("datafusion.execution.batch_size", "17")]
            assert rows(a, show)[0][1] == "17"
            assert rows(b, show)[0][1] == default, "another client's setting leaked"
            refused(a, "SET datafusion.execution.target_partitions = 64", "cannot be set by a client")
            refused(a, "SET datafusion.runtime.memory_limit = '1T'", "cannot be set by a client")


def test_files_of_the_server_are_out_of_reach(server, secured_server):
    target = pathlib.Path(conftest.WORK) / "copied.csv"
    for conn in [flightsql.connect(server), login(secured_server, "ana", "ana-pw")]:
        with conn:
            refused(conn, "CREATE EXTERNAL TABLE t (line VARCHAR) STORED AS CSV LOCATION '/etc/hostname'",
                    "(?i)not allowed")
            refused(conn, "SELECT * FROM t", "(?i)not found|does not exist")
            refused(conn, f"COPY (SELECT 1 AS a) TO '{target}' STORED AS CSV", "(?i)not allowed")
            refused(conn, "SELECT * FROM '/etc/hostname'", "not valid")
            refused(conn, "SELECT * FROM read_csv('/etc/hostname')", "table function")
            assert rows(conn, "SELECT 1 AS one") == [(1,)]
    assert not target.exists()


def test_no_client_writes_a_bill_or_drops_a_view(server, secured_server):
    version = delta_version("gold", "invoice")
    for conn in [flightsql.connect(server), login(secured_server, "eng", "eng-pw"), login(secured_server, "ana", "ana-pw")]:
        with conn:
            refused(conn, "EXPLAIN ANALYZE INSERT INTO gold.invoice SELECT * FROM gold.invoice LIMIT 1",
                    "EXPLAIN is allowed for queries only")
            refused(conn, "DROP VIEW IF EXISTS silver.cdr_record", "(?i)not allowed")
            refused(conn, "DROP TABLE gold.report_top_customers", "(?i)not allowed")
            refused(conn, "CREATE VIEW gold.mine AS SELECT 1", "(?i)not allowed")
            refused(conn, "PREPARE p AS SELECT 1", "(?i)not allowed")
    with flightsql.connect(server) as eng:
        # Engineers write, but only tables no model owns: never a bill.
        refused(eng, "INSERT INTO gold.invoice SELECT * FROM gold.invoice LIMIT 1", "only `cdrlake run` writes it")
        refused(eng, "DELETE FROM gold.invoice_line", "only `cdrlake run` writes it")
        refused(eng, "CREATE OR REPLACE TABLE system.query_log AS SELECT 1 AS a", "system tables")
        assert rows(eng, "SELECT count(*) > 0 FROM gold.report_top_customers") == [(True,)]
        # The view is still there for everyone.
        assert rows(eng, "SELECT count(*) > 0 FROM silver.cdr_record") == [(True,)]
    with flightsql.connect(server) as other:
        assert rows(other, "SELECT count(*) > 0 FROM silver.cdr_record") == [(True,)]
    assert delta_version("gold", "invoice") == version


def test_names_are_not_paths_and_keys_stay_on_the_server(secured_server):
    with login(secured_server, "ana", "ana-pw") as ana:
        refused(ana, 'SELECT count(*) FROM gold."../silver/cdr"', "not valid")
        refused(ana, 'SELECT count(*) FROM gold."..\\silver"', "not valid")
        refused(ana, "SELECT hmac_token('Amina Alaoui')", "hmac_token")
        refused(ana, "SELECT * FROM bronze.plan", "may not read bronze.plan")
        # Rating functions still work for analysts: the tariff is read by the table, not by name.
        assert rows(ana, "SELECT destination_zone('+212612345678') IS NOT NULL") == [(True,)]
        assert rows(ana, "SELECT count(*) > 0 FROM gold.invoice") == [(True,)]


def wait_for(conn, sql, predicate, seconds=20):
    deadline = time.time() + seconds
    while True:
        try:
            got = rows(conn, sql)
        except adbc_driver_manager.Error:
            # system.query_log exists from the server's first flush on.
            if time.time() > deadline:
                raise
            got = None
        if got is not None and (predicate(got) or time.time() > deadline):
            return got
        time.sleep(0.5)


def test_analysts_see_their_own_query_log_and_refusals_are_logged(secured_server):
    with login(secured_server, "eng", "eng-pw") as eng, login(secured_server, "ana", "ana-pw") as ana:
        rows(eng, "SELECT 'eng was here' AS marker")
        refused(ana, "COPY (SELECT 2 AS b) TO '/tmp/ana.csv' STORED AS CSV", "(?i)not allowed")
        logged = wait_for(
            eng,
            "SELECT \"user\", status, error FROM system.query_log WHERE sql LIKE 'COPY (SELECT 2%'",
            lambda r: len(r) > 0,
        )
        assert logged and logged[0][0] == "ana" and logged[0][1] == "refused"
        assert "not allowed" in logged[0][2]
        wait_for(eng, "SELECT count(*) FROM system.query_log WHERE sql LIKE '%eng was here%'", lambda r: r[0][0] > 0)
        assert rows(ana, 'SELECT DISTINCT "user" FROM system.query_log') == [("ana",)]
        # The same table at an older version is filtered the same way.
        version = delta_version("system", "query_log") - 1
        users = rows(ana, f'SELECT DISTINCT "user" FROM system."query_log@{version}"')
        assert set(users) <= {("ana",)}


def basic(user, password):
    import base64
    return b"Basic " + base64.b64encode(f"{user}:{password}".encode())


def test_every_call_needs_a_token(secured_server):
    c = flight.FlightClient(secured_server)
    wrong = flight.FlightCallOptions(headers=[(b"authorization", basic("ana", "wrong"))])
    right_basic = flight.FlightCallOptions(headers=[(b"authorization", basic("ana", "ana-pw"))])
    for options in [wrong, right_basic, flight.FlightCallOptions()]:
        with pytest.raises(flight.FlightUnauthenticatedError):
            c.get_flight_info(statement_query("SELECT 1"), options)
        with pytest.raises(flight.FlightUnauthenticatedError):
            list(c.list_actions(options))
        with pytest.raises(flight.FlightUnauthenticatedError):
            list(c.do_action(flight.Action("GetSessionOptions", b""), options))
        with pytest.raises(flight.FlightUnauthenticatedError):
            list(c.list_flights(options=options))
    bearer = flight.FlightCallOptions(headers=[(b"authorization", b"Bearer forged")])
    with pytest.raises(flight.FlightUnauthenticatedError):
        c.get_flight_info(statement_query("SELECT 1"), bearer)


def option(key, value):
    """One map entry of SetSessionOptionsRequest: key -> SessionOptionValue{string_value}."""
    return field(1, field(1, key.encode()) + field(2, field(1, value.encode())))


def action(c, name, body, options):
    return b"".join(r.body.to_pybytes() for r in c.do_action(flight.Action(name, body), options))


def test_session_options_as_jdbc_sends_them(secured_server):
    c = flight.FlightClient(secured_server)
    header = c.authenticate_basic_token(b"eng", b"eng-pw")
    options = flight.FlightCallOptions(headers=[header])
    # The JDBC driver's connection properties: catalog and schema. No errors in the result.
    assert action(c, "SetSessionOptions", option("catalog", "cdrlake") + option("schema", "silver"), options) == b""
    got = action(c, "GetSessionOptions", b"", options)
    assert field(1, b"schema") + field(2, field(1, b"silver")) in got
    info = c.get_flight_info(statement_query("SELECT count(*) AS n FROM cdr"), options)
    assert c.do_get(info.endpoints[0].ticket, options).read_all().column("n")[0].as_py() > 0
    # A name outside the allow-list and a bad value: named in the result, nothing set.
    result = action(c, "SetSessionOptions",
                    option("datafusion.execution.target_partitions", "64") + option("catalog", "other"), options)
    invalid_name = field(1, b"datafusion.execution.target_partitions") + field(2, varint(1 << 3) + varint(1))
    invalid_value = field(1, b"catalog") + field(2, varint(1 << 3) + varint(2))
    assert invalid_name in result and invalid_value in result
    # Another login of the same user has a session of its own: its schema is still the default.
    other = flight.FlightClient(secured_server)
    other_options = flight.FlightCallOptions(headers=[other.authenticate_basic_token(b"eng", b"eng-pw")])
    assert field(1, b"schema") + field(2, field(1, b"gold")) in action(other, "GetSessionOptions", b"", other_options)
    # An analyst cannot make a schema they may not read their default.
    ana = flight.FlightClient(secured_server)
    ana_options = flight.FlightCallOptions(headers=[ana.authenticate_basic_token(b"ana", b"ana-pw")])
    assert b"schema" in action(ana, "SetSessionOptions", option("schema", "bronze"), ana_options)
    # CloseSession ends the session and its token.
    assert action(c, "CloseSession", b"", options) == varint(1 << 3) + varint(1)
    with pytest.raises(flight.FlightUnauthenticatedError):
        c.get_flight_info(statement_query("SELECT 1"), options)


def test_demo_mode_serves_loopback_only():
    import subprocess
    result = subprocess.run(
        [conftest.BINARY, "--lakehouse", f"{conftest.WORK}/lake", "serve", "--listen", "0.0.0.0:0"],
        cwd=conftest.WORK, env=conftest.ENV, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode != 0
    assert "--allow-anonymous" in result.stderr


def test_sigterm_stops_the_server_and_writes_the_query_log(server):
    import subprocess
    uri, proc = conftest.start(["serve"])
    marker = f"sigterm-{time.time_ns()}"
    with flightsql.connect(uri) as conn:
        rows(conn, f"SELECT '{marker}' AS m")
    proc.send_signal(15)
    assert proc.wait(timeout=60) == 0
    logged = subprocess.run(
        [conftest.BINARY, "--lakehouse", f"{conftest.WORK}/lake", "query", "--format", "csv",
         f"SELECT count(*) AS n FROM system.query_log WHERE sql LIKE '%{marker}%'"],
        cwd=conftest.WORK, env=conftest.ENV, capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert logged.split() == ["n", "1"], logged


def test_do_exchange_and_substrait_are_refused(server):
    c = flight.FlightClient(server)
    with pytest.raises(Exception, match="(?i)unimplemented|not implemented"):
        writer, reader = c.do_exchange(flight.FlightDescriptor.for_command(b"anything"))
        reader.read_all()
    # CommandStatementSubstraitPlan{plan: SubstraitPlan{plan: bytes}}
    substrait = field(1, b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementSubstraitPlan") + field(
        2, field(1, field(1, b"\x00"))
    )
    with pytest.raises(Exception, match="(?i)unimplemented|not implemented"):
        c.get_flight_info(flight.FlightDescriptor.for_command(substrait))
    info = c.get_flight_info(statement_query("SELECT 1 AS one"))
    assert c.do_get(info.endpoints[0].ticket).read_all().column("one").to_pylist() == [1]
