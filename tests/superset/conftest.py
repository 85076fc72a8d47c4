"""The real parts of the Superset test: `cdrlake up` with users (a generated lakehouse, the shipped
models), Superset started by clients/superset/run-superset (the same start-up docker-compose.yml
runs), and headless Chromium logged in to it. Everything listens on 127.0.0.1."""
import os
import pathlib
import shutil
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time

import pytest

from cdrlake_superset.setup import Superset

REPO = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("CDRLAKE_BIN") or str(REPO / "target" / "debug" / "cdrlake")
CHROMIUM = os.environ.get("CDRLAKE_CHROMIUM", "/usr/bin/chromium")
WORK = pathlib.Path(tempfile.mkdtemp(prefix="cdrlake-superset-"))
ANALYST = ("ana", secrets.token_urlsafe(12))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "CDRLAKE_", "SUPERSET_"))}


def wait_for_line(proc, log: pathlib.Path, marker: str, seconds: float) -> None:
    """Copies the process's output to `log` until a line starts with `marker`."""
    deadline = time.time() + seconds
    with log.open("w") as out:
        while time.time() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            out.write(line)
            out.flush()
            if line.startswith(marker):
                return
    proc.kill()
    pytest.fail(f"no '{marker}' within {seconds:.0f} s; output:\n{log.read_text()[-4000:]}")


def drain(proc, log: pathlib.Path) -> None:
    """Keeps reading a server's output so a full pipe never blocks it."""
    def copy():
        with log.open("a") as out:
            for line in proc.stdout:
                out.write(line)

    threading.Thread(target=copy, daemon=True).start()


def stop(proc) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def cdrlake():
    """`cdrlake up` with an analyst user: April closed (issued), May provisional. Yields the
    SQLAlchemy URI with credentials."""
    hashed = subprocess.run(
        [BINARY, "hash-password"], input=ANALYST[1] + "\n", capture_output=True, text=True, check=True
    ).stdout.strip()
    config = WORK / "cdrlake.toml"
    config.write_text(f'[[server.users]]\nname = "{ANALYST[0]}"\npassword_hash = "{hashed}"\nrole = "analyst"\n')
    port = free_port()
    proc = subprocess.Popen(
        [BINARY, "--lakehouse", str(WORK / "lake"), "--config", str(config), "up", "--project", str(REPO / "sql"),
         "--customers", "60", "--listen", f"127.0.0.1:{port}"],
        cwd=WORK, env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    log = WORK / "cdrlake.log"
    wait_for_line(proc, log, "Flight SQL on", 900)
    drain(proc, log)
    yield f"datafusion://{ANALYST[0]}:{ANALYST[1]}@127.0.0.1:{port}?insecure=true"
    stop(proc)


@pytest.fixture(scope="session")
def superset(cdrlake):
    """Superset from run-superset, dashboards imported; yields a logged-in REST client."""
    port = free_port()
    admin_password = secrets.token_urlsafe(12)
    home = WORK / "superset"
    home.mkdir()
    env = clean_env()
    env.update(
        PATH=f"{pathlib.Path(sys.executable).parent}:{env['PATH']}",
        SUPERSET_HOME=str(home),
        SUPERSET_SECRET_KEY=secrets.token_hex(32),
        SUPERSET_ADMIN_PASSWORD=admin_password,
        SUPERSET_PORT=str(port),
        SUPERSET_WORKERS="2",
        CDRLAKE_URI=cdrlake,
    )
    proc = subprocess.Popen(
        [str(REPO / "clients" / "superset" / "run-superset")],
        cwd=home, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    log = WORK / "superset.log"
    wait_for_line(proc, log, "superset ready", 900)
    drain(proc, log)
    client = Superset(f"http://127.0.0.1:{port}", "admin", admin_password)
    client.admin_password = admin_password
    yield client
    stop(proc)


@pytest.fixture(scope="session")
def browser_context(superset):
    """Headless Chromium logged in to Superset. Requests to any host but Superset are refused and
    recorded in `context.outside`."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"],
        )
        context = browser.new_context(viewport={"width": 1600, "height": 2400})
        context.outside = []

        def only_superset(route):
            url = route.request.url
            if url.startswith(superset.url) or url.startswith(("data:", "blob:")):
                route.continue_()
            else:
                context.outside.append(url)
                route.abort()

        context.route("**/*", only_superset)
        page = context.new_page()
        page.goto(f"{superset.url}/login/")
        page.fill("#username", "admin")
        page.fill("#password", superset.admin_password)
        page.click("button[type=submit]")
        page.wait_for_url("**/superset/welcome/**", timeout=120_000)
        page.close()
        yield context
        browser.close()


def pytest_sessionfinish(session, exitstatus):
    """The work directory (lakehouse, server TLS key, logs) goes once every test passed; after a
    failure it stays for its logs."""
    if exitstatus == 0:
        shutil.rmtree(WORK, ignore_errors=True)
    else:
        print(f"\nwork directory kept for its logs: {WORK}")
