"""Static checks of the deployment files: deploy/Dockerfile, docker-compose.yml, .dockerignore,
deploy/prometheus (scrape configs, alert rules), deploy/grafana (dashboard, provisioning) and
deploy/k8s (manifests).

No engine is needed: the files are parsed and checked against the code (settings names,
CLI commands, metric names). Tools run when they are on PATH and are skipped otherwise:
``docker compose config`` (needs a Docker engine), ``promtool`` (checks the Prometheus
configs, the rules and their unit tests, and the dashboard's queries) and ``kubectl
kustomize``.
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
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel

from stream_app.decisions.campaigns import load_campaigns
from stream_app.segments.rules import SegmentRules, load_segments
from stream_app.settings import DEV_API_KEY_PEPPER, DEV_PSEUDONYM_SECRET, Settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "stream-app.json"
K8S = DEPLOY / "k8s"

ENV_PREFIX = "STREAM_APP_"
ENV_NAME = re.compile(rf"\b{ENV_PREFIX}[A-Za-z0-9_]+")
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
APP_SERVICES = ("topics", "worker", "api", "simulator")

WORKER_METRICS_PORT = 9108
API_METRICS_PORT = 9109
#: The metrics the worker and the API export: the contract the alerts and the dashboard
#: are written against (counters with their ``_total`` suffix).
COUNTERS = {
    "stream_app_events_total",
    "stream_app_dead_letters_total",
    "stream_app_redis_errors_total",
    "stream_app_decisions_total",
    "stream_app_model_drifts_total",
    "stream_app_api_requests_total",
}
GAUGES = {
    "stream_app_consumer_lag",
    "stream_app_partition_stalled",
    "stream_app_scheduled_checks",
    "stream_app_overdue_checks",
    "stream_app_model_auc",
    "stream_app_model_log_loss",
    "stream_app_model_info",
}
HISTOGRAMS = {
    "stream_app_event_apply_latency_seconds",
    "stream_app_trigger_to_decision_seconds",
    "stream_app_redis_batch_seconds",
    "stream_app_api_request_seconds",
}
API_METRICS = {"stream_app_api_requests_total", "stream_app_api_request_seconds"}
SERIES = (
    COUNTERS
    | GAUGES
    | {f"{name}{suffix}" for name in HISTOGRAMS for suffix in ("_bucket", "_sum", "_count")}
)
METRIC_NAME = re.compile(r"\bstream_app_[a-z0-9_]+")
SEVERITIES = {"warning", "critical"}


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


def yaml_documents(path: Path) -> list[Any]:
    docs = [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]
    assert docs, f"{path} holds no YAML document"
    return docs


def deploy_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.is_file())


def bind_mounts(name: str) -> dict[str, str]:
    """A service's bind mounts, container path -> host path (relative to the repo root)."""
    mounts: dict[str, str] = {}
    for volume in service(name).get("volumes", []):
        source, target, *_ = volume.split(":")
        if source.startswith("./"):
            mounts[target] = source[2:]
    return mounts


def published_ports(name: str) -> list[str]:
    return [str(port) for port in service(name).get("ports", [])]


@cache
def kustomization() -> dict[str, Any]:
    data = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


@cache
def k8s_objects() -> tuple[dict[str, Any], ...]:
    """Every object in deploy/k8s, the Secret example included."""
    objects: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            objects.extend(yaml_documents(path))
    return tuple(objects)


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    found = [o for o in k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def deployments() -> list[dict[str, Any]]:
    return [o for o in k8s_objects() if o["kind"] == "Deployment"]


def container(deployment: str) -> dict[str, Any]:
    containers = k8s_object("Deployment", deployment)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def container_ports(spec: dict[str, Any]) -> dict[str, int]:
    return {port["name"]: port["containerPort"] for port in spec["ports"]}


def k8s_config() -> dict[str, str]:
    return {k: str(v) for k, v in k8s_object("ConfigMap", "stream-app-config")["data"].items()}


def k8s_secret() -> dict[str, str]:
    return {k: str(v) for k, v in k8s_object("Secret", "stream-app-secrets")["stringData"].items()}


def prometheus_config(name: str) -> dict[str, Any]:
    data = yaml.safe_load((PROMETHEUS / name).read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def scrape_jobs(name: str) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in prometheus_config(name)["scrape_configs"]}


def alert_rules() -> list[dict[str, Any]]:
    groups = prometheus_config("alerts.yml")["groups"]
    return [rule for group in groups for rule in group["rules"]]


@cache
def dashboard() -> dict[str, Any]:
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def dashboard_queries() -> Iterator[tuple[str, str]]:
    """(panel title, PromQL) of every query the dashboard runs."""
    for panel in dashboard()["panels"]:
        for target in panel.get("targets", []):
            yield panel["title"], target["expr"]


def as_promql(expr: str) -> str:
    """A dashboard query with Grafana's variables replaced, as Prometheus would receive it."""
    for variable, value in (("$__rate_interval", "1m"), ("$__range", "1h"), ("$campaign", ".*")):
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"unknown Grafana variable in {expr!r}"
    return expr


def is_duration(value: str) -> bool:
    return re.fullmatch(r"(\d+[smhdw])+", value) is not None


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.skip("no promtool on PATH (it ships with Prometheus)")
    return path


def run_tool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


# --- docker-compose.yml -------------------------------------------------------------


def test_compose_has_the_services() -> None:
    services = {"kafka", "redis", "topics", "worker", "api", "simulator", "prometheus", "grafana"}
    assert services <= set(compose()["services"])
    volumes = {"kafka-data", "redis-data", "prometheus-data", "grafana-data"}
    assert volumes <= set(compose()["volumes"])


def test_every_stream_app_variable_is_a_setting() -> None:
    """Compose, the Dockerfile and every file under deploy/ (k8s env, alert texts)."""
    used = set(ENV_NAME.findall(COMPOSE.read_text(encoding="utf-8")))
    for path in deploy_files():
        used |= set(ENV_NAME.findall(path.read_text(encoding="utf-8")))
    for name in APP_SERVICES:
        used |= set(environment(name))
    for spec in (container(d["metadata"]["name"]) for d in deployments()):
        used |= {item["name"] for item in spec.get("env", [])}
    used |= set(k8s_config()) | set(k8s_secret())
    assert {"STREAM_APP_KAFKA__BOOTSTRAP", "STREAM_APP_METRICS__PORT"} <= used
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
    monkeypatch.delenv(f"{ENV_PREFIX}API_KEY_PEPPER", raising=False)
    for key, value in environment("worker").items():
        monkeypatch.setenv(key, interpolate(value))

    settings = Settings(_env_file=None)

    assert settings.kafka.bootstrap == "kafka:9092"
    assert settings.redis.url == "redis://redis:6379/0"
    # No published default secret: compose refuses to start without one (``:?``).
    assert environment("worker")["STREAM_APP_SECRETS__PSEUDONYM_SECRET"].startswith(
        "${STREAM_APP_SECRETS__PSEUDONYM_SECRET:?"
    )
    assert settings.secrets.pseudonym_secret.get_secret_value() != DEV_PSEUDONYM_SECRET
    assert not settings.secrets.allow_dev_secret
    assert "STREAM_APP_SECRETS__ALLOW_DEV_SECRET" not in environment("worker")
    # Likewise the API key pepper.
    assert environment("api")["STREAM_APP_SECRETS__API_KEY_PEPPER"].startswith(
        "${STREAM_APP_SECRETS__API_KEY_PEPPER:?"
    )
    assert settings.secrets.api_key_pepper.get_secret_value() != DEV_API_KEY_PEPPER
    # The API listens where its published port and healthcheck expect it.
    assert settings.api.host == "0.0.0.0"
    assert any(port.endswith(f":{settings.api.port}") for port in published_ports("api"))
    assert f":{settings.api.port}/ready" in " ".join(service("api")["healthcheck"]["test"])


def test_worker_service() -> None:
    worker = service("worker")
    assert worker["command"] == ["worker"]
    assert worker["build"]["dockerfile"] == "deploy/Dockerfile"
    assert worker["restart"] == "unless-stopped"
    assert worker["depends_on"]["topics"]["condition"] == "service_completed_successfully"
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"


def test_two_workers_and_the_api() -> None:
    # Scaled by replicas, not by copies of the service: Prometheus finds them by DNS.
    assert service("worker")["deploy"]["replicas"] == 2
    assert "container_name" not in service("worker")
    assert "ports" not in service("worker")
    api = service("api")
    assert api["command"] == ["api"]
    assert api["depends_on"]["redis"]["condition"] == "service_healthy"
    assert api["restart"] == "unless-stopped"


def test_compose_publishes_on_loopback_only() -> None:
    for name in compose()["services"]:
        for port in published_ports(name):
            assert port.startswith("127.0.0.1:"), f"{name} publishes {port} beyond this host"


def test_compose_prometheus_and_grafana() -> None:
    prometheus = bind_mounts("prometheus")
    assert prometheus["/etc/prometheus/prometheus.yml"] == "deploy/prometheus/prometheus.yml"
    config = prometheus_config("prometheus.yml")
    # Every rule file the config names is mounted where it looks for it.
    for rule_file in config["rule_files"]:
        assert (ROOT / prometheus[rule_file]).is_file(), rule_file
    assert "--config.file=/etc/prometheus/prometheus.yml" in service("prometheus")["command"]

    grafana = bind_mounts("grafana")
    assert grafana["/etc/grafana/provisioning"] == "deploy/grafana/provisioning"
    providers = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "stream-app.yml").read_text(encoding="utf-8")
    )["providers"]
    for provider in providers:
        assert grafana[provider["options"]["path"]] == "deploy/grafana/dashboards"
    home = service("grafana")["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    dashboards_dir = providers[0]["options"]["path"]
    assert home == f"{dashboards_dir}/{DASHBOARD.name}"
    assert service("grafana")["depends_on"]["prometheus"]["condition"] == "service_healthy"


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
    assert environment("worker")["STREAM_APP_KAFKA__BOOTSTRAP"] == "kafka:9092"

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
    assert environment("worker")["STREAM_APP_REDIS__URL"].startswith("redis://redis:6379/")


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
    assert env["STREAM_APP_WORKER__DATA_DIR"].startswith("/")
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


# --- deploy/prometheus --------------------------------------------------------------


def test_deploy_yaml_files_parse() -> None:
    paths = [p for p in deploy_files() if p.suffix in (".yml", ".yaml")]
    assert len(paths) >= 10
    for path in paths:
        for doc in yaml_documents(path):
            assert isinstance(doc, dict), f"{path}: a document is not a mapping"


def test_compose_prometheus_scrapes_workers_and_api() -> None:
    jobs = scrape_jobs("prometheus.yml")
    # Workers by DNS on the service name (every replica), the API by its static address.
    (worker,) = jobs["stream-app-worker"]["dns_sd_configs"]
    assert worker["names"] == ["worker"]
    assert worker["type"] == "A"
    assert worker["port"] == WORKER_METRICS_PORT
    (api,) = jobs["stream-app-api"]["static_configs"]
    assert api["targets"] == [f"api:{API_METRICS_PORT}"]
    for name in ("stream-app-worker", "stream-app-api"):
        assert jobs[name]["metrics_path"] == "/metrics"
    assert {"worker", "api"} <= set(compose()["services"])
    # ... on the ports the containers are told to serve them on.
    assert int(environment("worker")["STREAM_APP_METRICS__PORT"]) == WORKER_METRICS_PORT
    assert int(environment("api")["STREAM_APP_METRICS__API_PORT"]) == API_METRICS_PORT


def test_k8s_prometheus_discovers_annotated_pods() -> None:
    config = prometheus_config("prometheus-k8s.yml")
    assert config["rule_files"] == prometheus_config("prometheus.yml")["rule_files"]
    (job,) = config["scrape_configs"]
    (sd,) = job["kubernetes_sd_configs"]
    assert sd["role"] == "pod"
    assert sd["namespaces"]["names"] == [kustomization()["namespace"]]
    relabel = {tuple(rule.get("source_labels", ())): rule for rule in job["relabel_configs"]}
    keep = relabel[("__meta_kubernetes_pod_annotation_prometheus_io_scrape",)]
    assert (keep["action"], keep["regex"]) == ("keep", "true")
    port = relabel[("__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port")]
    assert port["target_label"] == "__address__"
    assert re.fullmatch(port["regex"], "10.1.2.3:8080;9108")
    assert re.sub(port["regex"], port["replacement"].replace("$", "\\"), "10.1.2.3;9108") == (
        "10.1.2.3:9108"
    )
    # Job names as in compose, from the pods' component label: the alerts fit both.
    job_rule = relabel[("__meta_kubernetes_pod_label_app_kubernetes_io_component",)]
    assert job_rule["target_label"] == "job"
    components = {
        d["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/component"]
        for d in deployments()
    }
    jobs = {job_rule["replacement"].replace("$1", c) for c in components}
    assert jobs == set(scrape_jobs("prometheus.yml")) - {"prometheus"}


def test_alert_rules_are_complete() -> None:
    rules = alert_rules()
    names = [rule["alert"] for rule in rules]
    assert len(names) == len(set(names)), "duplicate alert names"
    assert {
        "StreamAppConsumerLagGrowing",
        "StreamAppPartitionStalled",
        "StreamAppDeadLetterRate",
        "StreamAppModelDriftStorm",
        "StreamAppRedisErrors",
        "StreamAppOverdueChecks",
        "StreamAppApi5xxRate",
    } <= set(names)
    for rule in rules:
        name = rule["alert"]
        assert is_duration(rule["for"]), f"{name}: `for` must be a duration"
        assert rule["labels"]["severity"] in SEVERITIES, name
        assert rule["annotations"]["summary"].strip(), name
        assert rule["annotations"]["description"].strip(), name
        used = set(METRIC_NAME.findall(rule["expr"]))
        assert used or "up{" in rule["expr"], f"{name} watches no metric"
        assert used <= SERIES, f"{name}: unknown metrics {sorted(used - SERIES)}"

    by_name = {rule["alert"]: rule["expr"] for rule in rules}
    assert "deriv(" in by_name["StreamAppConsumerLagGrowing"]
    assert 'status=~"5.."' in by_name["StreamAppApi5xxRate"]
    assert "[1h]" in by_name["StreamAppModelDriftStorm"]


def test_every_alert_has_a_unit_test() -> None:
    tests = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text(encoding="utf-8"))
    assert tests["rule_files"] == ["alerts.yml"]
    tested = {
        case["alertname"]
        for test in tests["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    untested = {rule["alert"] for rule in alert_rules()} - tested
    assert not untested, f"alerts never shown to fire in alerts.test.yml: {sorted(untested)}"


def test_promtool_checks_configs_and_rules() -> None:
    tool = promtool()
    for config in ("prometheus.yml", "prometheus-k8s.yml"):
        result = run_tool(tool, "check", "config", "--syntax-only", config, cwd=PROMETHEUS)
        output = result.stdout + result.stderr
        if config.endswith("k8s.yml") and "kubernetes_sd_configs not found" in output:
            continue  # a distribution build of promtool without Kubernetes discovery
        assert result.returncode == 0, output
    result = run_tool(tool, "check", "rules", "alerts.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_runs_the_alert_unit_tests() -> None:
    result = run_tool(promtool(), "test", "rules", "alerts.test.yml", cwd=PROMETHEUS)
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_parses_every_dashboard_query(tmp_path: Path) -> None:
    """Each query becomes a recording rule, so promtool parses it as Prometheus would."""
    tool = promtool()
    rules = [
        {"record": f"dashboard:query_{i}", "expr": as_promql(expr)}
        for i, (_, expr) in enumerate(dashboard_queries())
    ]
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(
        yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}), encoding="utf-8"
    )
    result = run_tool(tool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr


# --- deploy/grafana -----------------------------------------------------------------


def test_dashboard_queries_use_known_metrics() -> None:
    queries = list(dashboard_queries())
    assert len(queries) >= 20
    used: set[str] = set()
    for title, expr in queries:
        names = set(METRIC_NAME.findall(expr))
        assert names, f"panel {title!r} queries no stream_app metric: {expr}"
        assert names <= SERIES, f"panel {title!r}: unknown metrics {sorted(names - SERIES)}"
        used |= names
    # Every exported metric is on the dashboard; histograms as percentiles.
    shown = {re.sub(r"_(bucket|sum|count)$", "", name) for name in used}
    assert shown == COUNTERS | GAUGES | HISTOGRAMS
    exprs = " ".join(expr for _, expr in queries)
    for histogram in HISTOGRAMS:
        assert re.search(
            rf"histogram_quantile\([^,]+, sum by \(le[^)]*\) \(rate\({histogram}_bucket", exprs
        ), histogram
    assert 'outcome=~"suppressed:.*|cancelled:.*"' in exprs


def test_dashboard_layout_and_datasource() -> None:
    board = dashboard()
    assert board["uid"] == "stream-app-overview"
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    cells: dict[tuple[int, int], str] = {}
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, f"{panel['title']} is wider than the dashboard"
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[x, y]}"
                cells[x, y] = panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["targets"], f"{panel['title']} has no query"
        assert panel["datasource"]["uid"] == "${datasource}"
        refs = [target["refId"] for target in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]


def test_grafana_provisioning() -> None:
    provisioning = GRAFANA / "provisioning"
    (source,) = yaml.safe_load(
        (provisioning / "datasources" / "prometheus.yml").read_text(encoding="utf-8")
    )["datasources"]
    assert source["type"] == "prometheus"
    assert source["isDefault"] is True
    # Prometheus as the compose network knows it.
    assert source["url"] == "http://prometheus:9090"
    assert any(p.endswith(":9090") for p in published_ports("prometheus"))
    (provider,) = yaml.safe_load(
        (provisioning / "dashboards" / "stream-app.yml").read_text(encoding="utf-8")
    )["providers"]
    assert provider["type"] == "file"
    assert sorted(p.name for p in (GRAFANA / "dashboards").iterdir()) == [DASHBOARD.name]


def test_worker_metrics_exist_in_the_code() -> None:
    """The names the alerts and the dashboard use are the ones the worker registers."""
    from stream_app.metrics.engine import EngineMetrics

    # Families without a labelled child yet have no samples: take the family names, with
    # the ``_total`` that counters are exposed with.
    exported = {
        f"{family.name}_total" if family.type == "counter" else family.name
        for family in EngineMetrics().registry.collect()
    }
    missing = sorted((COUNTERS | GAUGES | HISTOGRAMS) - API_METRICS - exported)
    assert not missing, f"not registered by EngineMetrics: {missing}"


# --- deploy/k8s ---------------------------------------------------------------------


def test_k8s_manifests_are_the_expected_objects() -> None:
    listed = kustomization()["resources"]
    assert all((K8S / name).is_file() for name in listed)
    # The Secret with placeholders is an example, never applied by `kubectl apply -k`.
    assert "secret.example.yaml" not in listed
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert files == set(listed), "every manifest belongs in kustomization.yaml"

    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in k8s_objects())
    assert kinds == [
        ("ConfigMap", "stream-app-config"),
        ("ConfigMap", "stream-app-rules"),
        ("Deployment", "stream-app-api"),
        ("Deployment", "stream-app-worker"),
        ("Namespace", "stream-app"),
        ("PodDisruptionBudget", "stream-app-api"),
        ("PodDisruptionBudget", "stream-app-worker"),
        ("Secret", "stream-app-secrets"),
        ("Service", "stream-app-api"),
    ]
    api_versions = {
        "ConfigMap": "v1",
        "Secret": "v1",
        "Service": "v1",
        "Namespace": "v1",
        "Deployment": "apps/v1",
        "PodDisruptionBudget": "policy/v1",
    }
    for obj in k8s_objects():
        assert obj["apiVersion"] == api_versions[obj["kind"]], obj["metadata"]["name"]


def test_k8s_deployments_have_probes_resources_and_config() -> None:
    image = kustomization()["images"][0]["name"]
    for deployment in deployments():
        name = deployment["metadata"]["name"]
        spec = deployment["spec"]
        labels = spec["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items(), name
        pod = spec["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        (box,) = pod["containers"]
        assert box["image"] == image, f"{name}: kustomization.yaml sets the image"
        assert box["securityContext"]["allowPrivilegeEscalation"] is False

        ports = container_ports(box)
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            check = box[probe]
            handler = check.get("httpGet") or check.get("tcpSocket")
            assert handler, f"{name}: {probe} needs an httpGet or tcpSocket check"
            assert handler["port"] in ports, f"{name}: {probe} probes an undeclared port"
            assert check["periodSeconds"] > 0

        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(box["resources"][kind]), f"{name}: {kind}"

        sources = box["envFrom"]
        assert {"configMapRef": {"name": "stream-app-config"}} in sources
        assert {"secretRef": {"name": "stream-app-secrets"}} in sources

        # Scraped on the port that is named metrics, by annotation.
        annotations = spec["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert int(annotations["prometheus.io/port"]) == ports["metrics"]
        assert annotations["prometheus.io/path"] == "/metrics"

        for volume in pod.get("volumes", []):
            if "configMap" in volume:
                k8s_object("ConfigMap", volume["configMap"]["name"])


def test_k8s_worker() -> None:
    worker = container("stream-app-worker")
    assert worker["args"] == ["worker"]
    env = {item["name"]: item["value"] for item in worker["env"]}
    assert int(env["STREAM_APP_METRICS__PORT"]) == WORKER_METRICS_PORT
    assert container_ports(worker)["metrics"] == WORKER_METRICS_PORT
    # Workers beyond the partition count would stand idle.
    replicas = k8s_object("Deployment", "stream-app-worker")["spec"]["replicas"]
    assert 1 <= replicas <= int(k8s_config()["STREAM_APP_KAFKA__TOPIC_PARTITIONS"])

    mounts = {m["mountPath"]: m for m in worker["volumeMounts"]}
    config = k8s_config()
    assert Path(config["STREAM_APP_WORKER__DATA_DIR"]).parent.as_posix() in mounts
    rules_dir = Path(config["STREAM_APP_DECISIONS__CAMPAIGNS_FILE"]).parent
    assert Path(config["STREAM_APP_SEGMENTS__FILE"]).parent == rules_dir
    assert mounts[rules_dir.as_posix()]["readOnly"] is True


def test_k8s_api_and_service() -> None:
    api = container("stream-app-api")
    assert api["args"] == ["api"]
    ports = container_ports(api)
    assert ports["http"] == int(k8s_config()["STREAM_APP_API__PORT"])
    env = {item["name"]: item["value"] for item in api["env"]}
    assert int(env["STREAM_APP_METRICS__API_PORT"]) == ports["metrics"] == API_METRICS_PORT
    assert api["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert api["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert api["startupProbe"]["httpGet"]["path"] == "/health"

    svc = k8s_object("Service", "stream-app-api")
    pod_labels = k8s_object("Deployment", "stream-app-api")["spec"]["template"]["metadata"][
        "labels"
    ]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert {p["targetPort"] for p in svc["spec"]["ports"]} <= set(ports)


def test_k8s_disruption_budgets_select_the_deployments() -> None:
    for name in ("stream-app-worker", "stream-app-api"):
        pdb = k8s_object("PodDisruptionBudget", name)["spec"]
        labels = k8s_object("Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert pdb["selector"]["matchLabels"].items() <= labels.items()
        assert ("maxUnavailable" in pdb) != ("minAvailable" in pdb)


def test_k8s_environment_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """ConfigMap + Secret + the containers' own env make a valid Settings."""
    for key in list(Settings.model_fields):
        monkeypatch.delenv(f"{ENV_PREFIX}{key.upper()}", raising=False)
    env = k8s_config() | k8s_secret()
    for deployment in ("stream-app-worker", "stream-app-api"):
        env |= {item["name"]: item["value"] for item in container(deployment)["env"]}
    for key, value in env.items():
        monkeypatch.setenv(key, value)

    settings = Settings(_env_file=None)

    assert settings.metrics.port == WORKER_METRICS_PORT
    assert settings.metrics.api_port == API_METRICS_PORT
    assert settings.kafka.security_protocol == "SASL_SSL"
    assert settings.redis.uses_tls
    assert settings.api.host == "0.0.0.0"
    assert settings.secrets.pseudonym_secret.get_secret_value() != DEV_PSEUDONYM_SECRET
    assert not settings.secrets.allow_dev_secret


def test_k8s_secrets_stay_in_the_secret() -> None:
    secret_fields = {
        f"{ENV_PREFIX}{name.upper()}"
        for name, info in Settings.model_fields.items()
        if "SecretStr" in str(info.annotation)
    }
    assert secret_fields <= set(k8s_secret()), "every secret setting has a place in the Secret"
    assert not secret_fields & set(k8s_config()), "secrets do not belong in the ConfigMap"
    for key, value in k8s_secret().items():
        assert value.startswith("REPLACE-ME"), f"{key}: the example holds placeholders only"


def test_k8s_rules_configmap_loads(tmp_path: Path) -> None:
    """The mounted campaigns and segments are what the worker accepts at start-up."""
    files = k8s_object("ConfigMap", "stream-app-rules")["data"]
    config = k8s_config()
    for setting in ("STREAM_APP_DECISIONS__CAMPAIGNS_FILE", "STREAM_APP_SEGMENTS__FILE"):
        assert Path(config[setting]).name in files
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")

    book = load_campaigns(tmp_path / Path(config["STREAM_APP_DECISIONS__CAMPAIGNS_FILE"]).name)
    rules = SegmentRules(load_segments(tmp_path / Path(config["STREAM_APP_SEGMENTS__FILE"]).name))
    assert book.campaigns
    assert rules.names
    for campaign in book.campaigns:
        segment = getattr(campaign.trigger, "segment", None)
        assert segment is None or segment in rules.names, f"{campaign.id}: no segment {segment}"


def test_kubectl_kustomize_builds() -> None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("no kubectl on PATH: `kubectl kustomize` is not run")
    result = run_tool(kubectl, "kustomize", str(K8S))
    assert result.returncode == 0, result.stderr
    built = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    assert len(built) == len(k8s_objects()) - 1  # all but the Secret example
    namespace = kustomization()["namespace"]
    for obj in built:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == namespace
    image = kustomization()["images"][0]
    for obj in built:
        if obj["kind"] == "Deployment":
            (box,) = obj["spec"]["template"]["spec"]["containers"]
            assert box["image"] == f"{image['newName']}:{image['newTag']}"
