"""docker-compose.yml, checked the way Debian's docker-compose validates it without a Docker engine
(none runs on these machines): it resolves with the example secrets, refuses to start without
them, and wires the services as docs/deployment.md says."""
import pathlib
import shutil
import subprocess

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "deploy" / "secrets.env.example"


def compose(*args, env_file=EXAMPLE):
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose not installed (scripts/test installs it: apt-get install docker-compose)"
    cmd = [exe, "-f", str(REPO / "docker-compose.yml")]
    if env_file:
        cmd += ["--env-file", str(env_file)]
    return subprocess.run(cmd + list(args), capture_output=True, text=True, cwd=REPO,
                          env={"PATH": "/usr/bin:/bin:/usr/local/bin"})


@pytest.fixture(scope="module")
def config():
    done = compose("config")
    assert done.returncode == 0, done.stderr
    return yaml.safe_load(done.stdout)


def test_every_secret_must_come_from_the_env_file(tmp_path):
    done = compose("config", env_file=None)
    assert done.returncode != 0
    assert "set MINIO_ROOT_USER in deploy/secrets.env" in done.stderr
    partial = tmp_path / "partial.env"
    partial.write_text("".join(line + "\n" for line in EXAMPLE.read_text().splitlines()
                               if not line.startswith("SUPERSET_SECRET_KEY=")))
    done = compose("config", env_file=partial)
    assert done.returncode != 0 and "SUPERSET_SECRET_KEY" in done.stderr
    text = (REPO / "docker-compose.yml").read_text()
    assert "change-me" not in text and "admin --password" not in text


def test_services_build_from_the_repository_and_have_healthchecks(config):
    services = config["services"]
    assert set(services) == {"minio", "init", "cdrlake", "superset"}
    assert services["cdrlake"]["build"]["context"] == str(REPO)
    assert services["superset"]["build"]["dockerfile"] == "clients/superset/Dockerfile"
    for name in ["minio", "cdrlake", "superset"]:
        assert services[name]["healthcheck"]["test"], name
    assert services["superset"]["depends_on"]["cdrlake"]["condition"] == "service_healthy"
    assert (REPO / ".dockerignore").read_text().count("target") >= 1


def test_cdrlake_serves_with_users_never_demo_mode(config):
    cdrlake = config["services"]["cdrlake"]
    assert cdrlake["environment"]["CDRLAKE_CONFIG"] == "/etc/cdrlake/cdrlake.toml"
    assert any(str(v).endswith("/etc/cdrlake/cdrlake.toml:ro") or
               (isinstance(v, dict) and v.get("target") == "/etc/cdrlake/cdrlake.toml" and v.get("read_only"))
               for v in cdrlake["volumes"])
    assert "--allow-anonymous" not in cdrlake["command"]
    assert cdrlake["command"][:1] == ["up"]


def test_superset_image_starts_with_the_script_the_browser_test_runs(config):
    dockerfile = (REPO / "clients" / "superset" / "Dockerfile").read_text()
    assert dockerfile.startswith("#") and "FROM apache/superset:6." in dockerfile
    assert 'CMD ["/opt/cdrlake-superset/run-superset"]' in dockerfile
    assert "COPY clients/superset /opt/cdrlake-superset" in dockerfile
    env = config["services"]["superset"]["environment"]
    assert env["CDRLAKE_URI"].startswith("datafusion://analyst:") and "@cdrlake:50051" in env["CDRLAKE_URI"]
    assert "pip install" not in str(config["services"]["superset"].get("command", ""))
