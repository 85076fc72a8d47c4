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
    services = {n: s for n, s in config["services"].items() if not s.get("profiles")}
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


def test_cluster_profile_adds_a_scheduler_and_two_executors_off_by_default(config):
    services = config["services"]
    cluster = {n for n, s in services.items() if "cluster" in s.get("profiles", [])}
    assert cluster == {"scheduler", "executor-1", "executor-2"}
    assert services["scheduler"]["command"][:1] == ["scheduler"]
    hosts, dirs = set(), set()
    for name in ["executor-1", "executor-2"]:
        command = services[name]["command"]
        assert command[0] == "executor"
        assert command[command.index("--scheduler") + 1] == "scheduler:50050"
        hosts.add(command[command.index("--external-host") + 1])
        work = command[command.index("--work-dir") + 1]
        assert any(work in str(v) for v in services[name]["volumes"]), name
        dirs.add(str(services[name]["volumes"]))
    assert hosts == {"executor-1", "executor-2"} and len(dirs) == 2
    # Ballista has no authentication: its ports are never published.
    for name in cluster:
        assert not services[name].get("ports"), name
        assert services[name]["environment"]["CDRLAKE_LAKEHOUSE"] == "s3://cdrlake/lake"
    # Without CDRLAKE_ENGINE in the env file, cdrlake runs everything itself.
    assert services["cdrlake"]["environment"]["CDRLAKE_ENGINE"] == ""


def test_cluster_engine_comes_from_the_env_file(tmp_path):
    env = tmp_path / "cluster.env"
    env.write_text(EXAMPLE.read_text() + "CDRLAKE_ENGINE=ballista://scheduler:50050\n")
    done = compose("--profile", "cluster", "config", env_file=env)
    assert done.returncode == 0, done.stderr
    services = yaml.safe_load(done.stdout)["services"]
    assert services["cdrlake"]["environment"]["CDRLAKE_ENGINE"] == "ballista://scheduler:50050"
