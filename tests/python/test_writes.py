"""SQL that writes, through ADBC: CREATE TABLE AS, INSERT INTO, DELETE (CommandStatementUpdate and
prepared statements), each one Delta commit; roles and errors."""
import adbc_driver_flightsql.dbapi as flightsql
import adbc_driver_manager
import pytest


def update(conn, sql):
    """Runs `sql` as CommandStatementUpdate (DoPut); returns the rows affected."""
    with conn.cursor() as cur:
        cur.adbc_statement.set_sql_query(sql)
        return cur.adbc_statement.execute_update()


def scalar(conn, sql):
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchone()[0]


def test_create_insert_delete_round_trip(server):
    with flightsql.connect(server) as conn:
        assert update(conn, "CREATE TABLE gold.py_notes AS SELECT 1 AS id, 'first' AS note") == 1
        assert update(conn, "INSERT INTO gold.py_notes VALUES (2, 'second'), (3, 'third')") == 2
        # The DB-API prepares every statement and executes it as a query: a one-row count comes back.
        with conn.cursor() as cur:
            cur.execute("INSERT INTO gold.py_notes (note, id) SELECT 'fourth', 4")
            assert cur.fetchall() == [(1,)]
        assert scalar(conn, "SELECT string_agg(note, ',' ORDER BY id) FROM gold.py_notes") == "first,second,third,fourth"
        assert update(conn, "DELETE FROM gold.py_notes WHERE id IN (2, 3)") == 2
        assert scalar(conn, "SELECT count(*) FROM gold.py_notes") == 2
        with pytest.raises(adbc_driver_manager.Error, match="already exists"):
            update(conn, "CREATE TABLE gold.py_notes AS SELECT 1 AS id")
        assert update(conn, "CREATE OR REPLACE TABLE gold.py_notes AS SELECT 9 AS id, 'only' AS note") == 1
        assert scalar(conn, "SELECT count(*) FROM gold.py_notes") == 1


def test_bad_writes_are_refused_and_change_nothing(server, secured_server):
    with flightsql.connect(server) as conn:
        update(conn, "CREATE OR REPLACE TABLE gold.py_guarded AS SELECT 1 AS id")
        with pytest.raises(adbc_driver_manager.Error, match="(?i)not found|does not exist"):
            update(conn, "INSERT INTO gold.py_nowhere VALUES (1)")
        with pytest.raises(adbc_driver_manager.Error, match="INSERT gives 2 column"):
            update(conn, "INSERT INTO gold.py_guarded VALUES (1, 2)")
        with pytest.raises(adbc_driver_manager.Error, match="not a writing statement"):
            update(conn, "SELECT 1")
        assert scalar(conn, "SELECT count(*) FROM gold.py_guarded") == 1
    analyst = flightsql.connect(secured_server, db_kwargs={"username": "ana", "password": "ana-pw"})
    with analyst:
        with pytest.raises(adbc_driver_manager.Error, match="may not write gold.py_guarded"):
            update(analyst, "DELETE FROM gold.py_guarded")
    with flightsql.connect(server) as conn:
        assert scalar(conn, "SELECT count(*) FROM gold.py_guarded") == 1
