"""Static checks of the container files: deploy/Dockerfile, docker-compose.yml, .dockerignore.

No engine is needed: the files are parsed and checked against the code (settings names,
CLI commands). Only ``docker compose config`` needs a real Docker, and is skipped without one.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shlex
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from stream_app.settings import DEV_PSEUDONYM_SECRET, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

ENV_PREFIX = "STREAM_APP_"
ENV_NAME = re.compile(rf"\b{ENV_PREFIX}[A-Za-z0-9_]+")
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
APP_SERVICES = ("topics", "worker", "simulator")


# --- helpers ------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "docker-compose.yml must be a mapping"
    return data


def service(name: str) -> dict[str, Any]:
    svc = compose()["services"][name]
    assert isinstance(svc, dict)
    return svc


def environment(name: str) -> dict[str, str]:
    """A service's environment as a dict (compose allows a mapping or a KEY=VALUE list)."""
    env = service(name).get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def valid_env_names() -> set[str]:
    """Every STREAM_APP_* name Settings reads, nested models with the ``__`` delimiter."""
    names: set[str] = set()
    for field, info in Settings.model_fields.items():
        names.add(f"{ENV_PREFIX}{field.upper()}")
        annotation = info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names.update(
                f"{ENV_PREFIX}{field.upper()}__{sub.upper()}" for sub in annotation.model_fields
            )
    return names


def interpolate(value: str) -> str:
    """Resolve compose ``${...}`` as with an empty shell environment (defaults apply)."""

    def resolve(match: re.Match[str]) -> str:
        op, arg = match["op"], match["arg"]
        if op in (":-", "-"):
            return arg
        if op in (":?", "?"):
            return "a-secret-supplied-by-the-operator"
        raise AssertionError(f"${{{match['name']}}} has no default: it would be empty")

    return INTERPOLATION.sub(resolve, value)


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        keyword, _, args = (pending + line).partition(" ")
        instructions.append((keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "Dockerfile ends inside a continued line"
    return instructions


def dockerfile_args(keyword: str) -> list[str]:
    return [args for kw, args in dockerfile_instructions() if kw == keyword]


def dockerfile_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in dockerfile_args("ENV"):
        for word in shlex.split(args):
            key, sep, value = word.partition("=")
            assert sep, f"use the ENV key=value form: {args!r}"
            env[key] = value
    return env


def exec_form(args: str) -> list[str]:
    value = json.loads(args)  # exec (JSON) form: no shell, signals reach the process
    assert isinstance(value, list)
    return value


# --- docker-compose.yml -------------------------------------------------------------


def test_compose_has_the_services() -> None:
    assert {"kafka", "redis", "topics", "worker", "simulator"} <= set(compose()["services"])
    assert {"kafka-data", "redis-data"} <= set(compose()["volumes"])


def test_every_stream_app_variable_is_a_setting() -> None:
    used = set(ENV_NAME.findall(COMPOSE.read_text(encoding="utf-8")))
    used |= set(ENV_NAME.findall(DOCKERFILE.read_text(encoding="utf-8")))
    for name in APP_SERVICES:
        used |= set(environment(name))
    assert "STREAM_APP_KAFKA_BOOTSTRAP" in used
    unknown = sorted(used - valid_env_names())
    assert not unknown, f"not fields of Settings (typo?): {unknown}"


def test_app_services_share_one_environment() -> None:
    envs = [environment(name) for name in APP_SERVICES]
    assert envs[0], "the app services need the x-stream-app-env environment"
    assert all(env == envs[0] for env in envs)
    assert all(service(name)["image"] == service("worker")["image"] for name in APP_SERVICES)


def test_compose_environment_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("KAFKA_BOOTSTRAP", "REDIS_URL", "PSEUDONYM_SECRET", "ALLOW_DEV_SECRET"):
        monkeypatch.delenv(f"{ENV_PREFIX}{key}", raising=False)
    for key, value in environment("worker").items():
        monkeypatch.setenv(key, interpolate(value))

    settings = Settings(_env_file=None)

    assert settings.kafka_bootstrap == "kafka:9092"
    assert settings.redis_url == "redis://redis:6379/0"
    # No published default secret: compose refuses to start without one (``:?``).
    assert environment("worker")["STREAM_APP_PSEUDONYM_SECRET"].startswith(
        "${STREAM_APP_PSEUDONYM_SECRET:?"
    )
    assert settings.pseudonym_secret.get_secret_value() != DEV_PSEUDONYM_SECRET
    assert not settings.allow_dev_secret
    assert "STREAM_APP_ALLOW_DEV_SECRET" not in environment("worker")


def test_worker_service() -> None:
    worker = service("worker")
    assert worker["command"] == ["worker"]
    assert worker["build"]["dockerfile"] == "deploy/Dockerfile"
    assert worker["restart"] == "unless-stopped"
    assert worker["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"


def test_topics_and_simulator_services() -> None:
    topics = service("topics")
    assert topics["command"] == ["topics", "create"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"

    simulator = service("simulator")
    assert "simulator" in simulator["profiles"]
    assert simulator["command"][0] == "simulate"
    assert {"--duration", "--rate"} <= set(simulator["command"])
    assert "profiles" not in service("worker")


def test_kafka_service() -> None:
    kafka = service("kafka")
    assert kafka["image"].startswith("apache/kafka:")
    env = {k: str(v) for k, v in kafka["environment"].items()}
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}

    advertised = env["KAFKA_ADVERTISED_LISTENERS"].split(",")
    assert "PLAINTEXT://kafka:9092" in advertised
    assert "EXTERNAL://localhost:9094" in advertised
    protocols = dict(p.split(":") for p in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    listeners = [item.split("://")[0] for item in env["KAFKA_LISTENERS"].split(",")]
    assert set(listeners) <= set(protocols)
    assert env["KAFKA_CONTROLLER_LISTENER_NAMES"] in listeners
    assert any(str(port).endswith("9094:9094") for port in kafka["ports"])
    assert "healthcheck" in kafka

    # The app containers reach Kafka on the advertised PLAINTEXT listener.
    assert environment("worker")["STREAM_APP_KAFKA_BOOTSTRAP"] == "kafka:9092"

    # KRaft refuses to format storage unless CLUSTER_ID is a base64url 16-byte UUID.
    cluster_id = env["CLUSTER_ID"]
    try:
        raw = base64.urlsafe_b64decode(cluster_id + "=" * (-len(cluster_id) % 4))
    except binascii.Error:
        pytest.fail(f"CLUSTER_ID {cluster_id!r} is not base64url")
    assert len(cluster_id) == 22
    assert len(raw) == 16


def test_redis_service() -> None:
    redis = service("redis")
    assert redis["image"].startswith("redis:7")
    command = redis["command"]
    if isinstance(command, str):
        command = shlex.split(command)
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    assert "ping" in redis["healthcheck"]["test"]
    assert environment("worker")["STREAM_APP_REDIS_URL"].startswith("redis://redis:6379/")


def test_docker_compose_config() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI on PATH: `docker compose config` cannot run")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [docker, *args], cwd=ROOT, capture_output=True, text=True, timeout=30, check=False
        )

    if run("compose", "version").returncode != 0:
        pytest.skip("docker CLI has no compose plugin: `docker compose config` cannot run")
    if run("info").returncode != 0:
        pytest.skip("no Docker engine answers: `docker compose config` is not run")
    result = run("compose", "-f", str(COMPOSE), "config", "-q")
    assert result.returncode == 0, result.stderr


# --- deploy/Dockerfile and .dockerignore -----------------------------------------------


def test_dockerfile_is_multi_stage_python_311() -> None:
    bases = [args.split()[0] for args in dockerfile_args("FROM")]
    assert len(bases) >= 2, "expected a build stage and a runtime stage"
    assert all(re.fullmatch(r"python:3\.11(\.\d+)?-slim(-\w+)?", base) for base in bases), bases
    assert any("--from=" in args for args in dockerfile_args("COPY"))


def test_dockerfile_runs_the_cli_as_non_root() -> None:
    instructions = dockerfile_instructions()
    last_stage = max(i for i, (kw, _) in enumerate(instructions) if kw == "FROM")
    users = [args for kw, args in instructions[last_stage:] if kw == "USER"]
    assert users, "the runtime stage must switch to a non-root USER"
    assert users[-1].split(":")[0] not in {"root", "0"}

    assert exec_form(dockerfile_args("ENTRYPOINT")[-1]) == ["stream-app"]
    assert exec_form(dockerfile_args("CMD")[-1]) == ["worker"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert "stream-app" in scripts["scripts"]


def test_dockerfile_environment_and_install() -> None:
    env = dockerfile_env()
    assert env["PYTHONUNBUFFERED"] == "1"
    assert env["STREAM_APP_DATA_DIR"].startswith("/")
    runs = " ".join(dockerfile_args("RUN"))
    assert "pip install ." in runs
    assert "-e ." not in runs
    assert "[dev]" not in runs
    for args in dockerfile_args("COPY"):
        if "--from=" in args:
            continue
        *sources, _ = args.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY source {source} is not in the build context"


def test_dockerignore_keeps_the_context_small() -> None:
    patterns = {
        line.strip().rstrip("/")
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", ".git", "test-artifacts", "*-data"} <= patterns
    assert {".pytest_cache", ".mypy_cache", ".ruff_cache"} <= patterns
    assert not {"stream_app", "pyproject.toml", "README.md"} & patterns
