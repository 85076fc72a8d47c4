"""Starts the real `cdrlake up` (a small generated lakehouse, the shipped models, Flight SQL on a
free loopback port) once for the session."""
import os
import pathlib
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


BINARY = os.environ.get("CDRLAKE_BIN") or str(REPO / "target" / "debug" / "cdrlake")
ENV = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDRLAKE_"))}
WORK = tempfile.mkdtemp(prefix="cdrlake-py-")


def start(args):
    """Runs cdrlake with `args` plus a free --listen port; returns (uri, process) once it serves."""
    port = free_port()
    proc = subprocess.Popen(
        [BINARY, "--lakehouse", f"{WORK}/lake", *args, "--listen", f"127.0.0.1:{port}"],
        cwd=WORK, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = []
    deadline = time.time() + 180
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        output.append(line)
        if line.startswith("Flight SQL on"):
            break
    else:
        proc.kill()
        pytest.fail("cdrlake up did not start serving:\n" + "".join(output))
    if proc.poll() is not None:
        pytest.fail("cdrlake exited:\n" + "".join(output))
    return f"grpc://127.0.0.1:{port}", proc


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def server():
    """The main job: generates a small lakehouse, builds the shipped models, serves (demo mode)."""
    uri, proc = start(["up", "--project", str(REPO / "sql"), "--customers", "40", "--days", "2"])
    yield uri
    stop(proc)


@pytest.fixture(scope="session")
def secured_server(server):
    """`cdrlake serve` on the same lakehouse with users from a cdrlake.toml."""
    def hashed(password):
        return subprocess.run([BINARY, "hash-password"], input=password + "\n", capture_output=True, text=True, check=True).stdout.strip()
    config = pathlib.Path(WORK) / "auth.toml"
    config.write_text(
        "[[server.users]]\nname = \"ana\"\npassword_hash = \"%s\"\nrole = \"analyst\"\n\n"
        "[[server.users]]\nname = \"eng\"\npassword_hash = \"%s\"\nrole = \"engineer\"\n" % (hashed("ana-pw"), hashed("eng-pw"))
    )
    uri, proc = start(["--config", str(config), "serve"])
    yield uri
    stop(proc)


def pytest_sessionfinish(session, exitstatus):
    """The work directory (lakehouse, server TLS key, logs) goes once every test passed; after a
    failure it stays for its logs."""
    if exitstatus == 0:
        shutil.rmtree(WORK, ignore_errors=True)
    else:
        print(f"\nwork directory kept for its logs: {WORK}")
