"""Starts the real `cdrlake up` (a small generated lakehouse, the shipped models, Flight SQL on a
free loopback port) once for the session."""
import os
import pathlib
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


@pytest.fixture(scope="session")
def server():
    binary = os.environ.get("CDRLAKE_BIN") or str(REPO / "target" / "debug" / "cdrlake")
    work = tempfile.mkdtemp(prefix="cdrlake-py-")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDRLAKE_"))}
    proc = subprocess.Popen(
        [binary, "--lakehouse", f"{work}/lake", "up", "--project", str(REPO / "sql"),
         "--customers", "40", "--days", "2", "--listen", f"127.0.0.1:{port}"],
        cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = []
    deadline = time.time() + 120
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
        pytest.fail("cdrlake up exited:\n" + "".join(output))
    yield f"grpc://127.0.0.1:{port}"
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
