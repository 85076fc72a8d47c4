"""`cdrlake serve --tls-cert/--tls-key`: TLS clients connect, plaintext ones do not."""
import pathlib
import subprocess

import adbc_driver_flightsql
import adbc_driver_flightsql.dbapi as flightsql
import pyarrow.flight as flight
import pytest

from conftest import WORK, start, stop


@pytest.fixture(scope="module")
def tls_server(server):
    """A self-signed certificate for 127.0.0.1 (made with the openssl tool), and a TLS server."""
    cert, key = pathlib.Path(WORK) / "tls.crt", pathlib.Path(WORK) / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )
    uri, proc = start(["serve", "--tls-cert", str(cert), "--tls-key", str(key)])
    yield uri.replace("grpc://", "grpc+tls://"), cert.read_bytes()
    stop(proc)


def test_tls_clients_query(tls_server):
    uri, cert = tls_server
    with flightsql.connect(uri, db_kwargs={adbc_driver_flightsql.DatabaseOptions.TLS_ROOT_CERTS.value: cert.decode()}) as conn:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM bronze.plan")
            assert cur.fetchone() == (3,)
    client = flight.FlightClient(uri, tls_root_certs=cert)
    assert list(client.list_actions())


def test_plaintext_and_untrusted_clients_fail(tls_server):
    uri, _ = tls_server
    with pytest.raises(flight.FlightUnavailableError):
        flight.FlightClient(uri.replace("grpc+tls://", "grpc://")).list_actions()
    with pytest.raises(flight.FlightUnavailableError):
        flight.FlightClient(uri).list_actions()  # the self-signed certificate is not trusted


def test_cert_without_key_is_refused():
    out = subprocess.run([__import__("conftest").BINARY, "serve", "--tls-cert", "x.crt"], capture_output=True, text=True)
    assert out.returncode != 0 and "--tls-key" in out.stderr
