"""Raw Flight calls with pyarrow.flight: the status codes a client sees."""
import pyarrow.flight as flight
import pytest


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def statement_query(sql: str) -> flight.FlightDescriptor:
    """google.protobuf.Any wrapping arrow.flight.protocol.sql.CommandStatementQuery{query}."""
    command = field(1, sql.encode())
    any_message = field(1, b"type.googleapis.com/arrow.flight.protocol.sql.CommandStatementQuery") + field(2, command)
    return flight.FlightDescriptor.for_command(any_message)


def client(uri):
    return flight.FlightClient(uri)


def test_query_then_fetch(server):
    c = client(server)
    info = c.get_flight_info(statement_query("SELECT plan_id FROM bronze.plan ORDER BY plan_id"))
    assert info.schema.names == ["plan_id"]
    assert [e.locations for e in info.endpoints] == [[]]
    table = c.do_get(info.endpoints[0].ticket).read_all()
    assert table.column("plan_id").to_pylist() == ["P_BASIC", "P_MAX", "P_PLUS"]


def test_status_codes(server, secured_server):
    c = client(server)
    # pyarrow names the gRPC status in its message (InvalidArgument surfaces as ArrowInvalid).
    with pytest.raises(Exception, match="invalid argument error, with message: SQL error.*SELEC"):
        c.get_flight_info(statement_query("SELEC 1"))
    with pytest.raises(Exception, match="not found error.*nope"):
        c.get_flight_info(statement_query("SELECT * FROM bronze.nope"))
    with pytest.raises(flight.FlightUnauthenticatedError):
        client(secured_server).get_flight_info(statement_query("SELECT 1"))
    # The server keeps serving after errors.
    info = c.get_flight_info(statement_query("SELECT 1 AS one"))
    assert c.do_get(info.endpoints[0].ticket).read_all().column("one").to_pylist() == [1]


def cancel(c, info) -> bytes:
    """Flight's CancelFlightInfo action with `info`; the CancelFlightInfoResult bytes."""
    results = list(c.do_action(flight.Action("CancelFlightInfo", field(1, info.serialize()))))
    return results[0].body.to_pybytes()


ENDLESS = "SELECT value FROM generate_series(1, 100000000000)"
CANCELLED = b"\x08\x01"  # CancelFlightInfoResult{status: CANCEL_STATUS_CANCELLED}


def test_cancel_before_fetch(server):
    c = client(server)
    info = c.get_flight_info(statement_query(ENDLESS))
    assert cancel(c, info) == CANCELLED
    with pytest.raises(flight.FlightCancelledError, match="cancelled by the client"):
        c.do_get(info.endpoints[0].ticket).read_all()
    # Unknown or finished queries are not cancellable (status 3).
    done = c.get_flight_info(statement_query("SELECT 1 AS one"))
    c.do_get(done.endpoints[0].ticket).read_all()
    assert cancel(c, done) == b"\x08\x03"


def test_cancel_while_streaming(server):
    c = client(server)
    info = c.get_flight_info(statement_query(ENDLESS))
    reader = c.do_get(info.endpoints[0].ticket)
    first = reader.read_chunk()
    assert first.data.num_rows > 0
    assert cancel(c, info) == CANCELLED
    rows = first.data.num_rows
    with pytest.raises(flight.FlightCancelledError):
        while True:
            rows += reader.read_chunk().data.num_rows
    assert rows < 100000000000
    # The server keeps serving.
    again = c.get_flight_info(statement_query("SELECT 2 AS two"))
    assert c.do_get(again.endpoints[0].ticket).read_all().column("two").to_pylist() == [2]
