"""The deployment files checked against their sources, not restated.

docker-compose.yml, deploy/Dockerfile and deploy/k8s name settings: every ``STREAM_APP_*``
variable must be one ``Settings`` reads, and each environment must make a valid
``Settings``. deploy/prometheus and deploy/grafana query metrics: every metric named must
be one the worker or the API registers. Probes must reach endpoints that exist, and
secrets stay out of config maps. Tools run when on PATH and are skipped otherwise:
``promtool``, ``docker compose config`` and ``kubectl kustomize``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from stream_app.api.app import create_app
from stream_app.decisions.campaigns import load_campaigns
from stream_app.metrics.api import ApiMetrics
from stream_app.metrics.engine import EngineMetrics
from stream_app.segments.rules import SegmentRules, load_segments
from stream_app.settings import DEV_API_KEY_PEPPER, DEV_PSEUDONYM_SECRET, Settings
from stream_app.settings.base import env_var

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
K8S = DEPLOY / "k8s"
K8S_REDIS_CLUSTER = DEPLOY / "k8s-redis-cluster"

ENV_NAME = re.compile(r"\bSTREAM_APP_[A-Za-z0-9_]+")
METRIC_NAME = re.compile(r"\bstream_app_[a-z0-9_]+")
# ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}
INTERPOLATION = re.compile(r"\$\{(?P<name>\w+)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
APP_SERVICES = ("topics", "worker", "api", "simulator")
#: Series names by metric type, as Prometheus exposes them.
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


# --- sources ------------------------------------------------------------------------


@cache
def registered_series() -> frozenset[str]:
    """Every series the worker's and the API's metric registries expose."""
    names: set[str] = set()
    for registry in (EngineMetrics().registry, ApiMetrics().registry):
        for family in registry.collect():
            names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
    return frozenset(names)


def secret_variables() -> set[str]:
    """The variables of settings typed as secrets."""
    return {
        env_var(section, field)
        for section, model in Settings.sections().items()
        for field, info in model.model_fields.items()
        if "SecretStr" in str(info.annotation)
    }


def api_paths() -> set[str]:
    app = create_app(Settings(_env_file=None, secrets={"allow_dev_secret": True}))
    return set(app.openapi()["paths"])


def settings_from(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    """The settings a process given exactly ``env`` would read."""
    for name in [n for n in os.environ if n.startswith("STREAM_APP_")]:
        monkeypatch.delenv(name)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)


# --- the deploy files -----------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def environment(service: str) -> dict[str, str]:
    """A service's environment (compose allows a mapping or a KEY=VALUE list)."""
    env = compose()["services"][service].get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def interpolate(value: str) -> str:
    """Resolve compose ``${...}`` as with an empty shell environment (defaults apply)."""

    def resolve(match: re.Match[str]) -> str:
        if match["op"] in (":-", "-"):
            return match["arg"]
        if match["op"] in (":?", "?"):
            return "a-secret-supplied-by-the-operator"
        raise AssertionError(f"${{{match['name']}}} has no default: it would be empty")

    return INTERPOLATION.sub(resolve, value)


@cache
def k8s_objects() -> tuple[dict[str, Any], ...]:
    """Every object in deploy/k8s, the Secret example included."""
    objects: list[dict[str, Any]] = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            text = path.read_text(encoding="utf-8")
            objects.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return tuple(objects)


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    found = [o for o in k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def containers() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(deployment, its container) of every Deployment."""
    for deployment in (o for o in k8s_objects() if o["kind"] == "Deployment"):
        (box,) = deployment["spec"]["template"]["spec"]["containers"]
        yield deployment, box


def k8s_config() -> dict[str, str]:
    return {k: str(v) for k, v in k8s_object("ConfigMap", "stream-app-config")["data"].items()}


def k8s_secret() -> dict[str, str]:
    return {k: str(v) for k, v in k8s_object("Secret", "stream-app-secrets")["stringData"].items()}


def k8s_env(box: dict[str, Any]) -> dict[str, str]:
    """What a container's process sees: ConfigMap, Secret, then its own env (but the
    values Kubernetes fills in, ``valueFrom``)."""
    own = {item["name"]: str(item["value"]) for item in box.get("env", []) if "value" in item}
    return k8s_config() | k8s_secret() | own


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_queries() -> Iterator[tuple[str, str]]:
    """(file: panel title, query) of every Grafana dashboard under deploy/."""
    for path in sorted(DEPLOY.rglob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in board.get("panels", []):
            for target in panel.get("targets", []):
                yield f"{path.name}: {panel['title']}", target["expr"]


def run_tool(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, check=False)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.skip(f"no {name} on PATH")
    return path


# --- settings -----------------------------------------------------------------------


def test_every_stream_app_variable_is_a_setting() -> None:
    """Compose, the Dockerfile, k8s env and config maps, alert texts: no typo, no old name."""
    files = [COMPOSE, *(p for p in DEPLOY.rglob("*") if p.is_file())]
    used = {name for path in files for name in ENV_NAME.findall(path.read_text("utf-8"))}
    assert used, "the deploy files name no setting"
    unknown = sorted(used - set(Settings.variables()))
    assert not unknown, f"not settings (typo or a renamed variable?): {unknown}"


def test_compose_environment_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    envs = [environment(name) for name in APP_SERVICES]
    assert envs[0], "the app services need the shared environment"
    assert all(env == envs[0] for env in envs), "one shared environment"
    settings = settings_from(monkeypatch, {k: interpolate(v) for k, v in envs[0].items()})
    # A secret has no published default: compose refuses to start without one (``:?``).
    for name in secret_variables() & envs[0].keys():
        assert re.fullmatch(rf"\$\{{{name}:\?[^}}]+\}}", envs[0].get(name, "")), name
    assert settings.secrets.pseudonym_secret.get_secret_value() != DEV_PSEUDONYM_SECRET
    assert settings.secrets.api_key_pepper.get_secret_value() != DEV_API_KEY_PEPPER
    assert not settings.secrets.allow_dev_secret
    # The API listens where its published port and its healthcheck expect it.
    api = compose()["services"]["api"]
    assert any(str(port).endswith(f":{settings.api.port}") for port in api["ports"])
    check = " ".join(api["healthcheck"]["test"])
    path = re.search(rf":{settings.api.port}(/\w+)", check)
    assert path, check
    assert path[1] in api_paths(), check


def test_k8s_environments_are_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each container's env makes a valid Settings, its ports and probes match it."""
    for deployment, box in containers():
        name = deployment["metadata"]["name"]
        settings = settings_from(monkeypatch, k8s_env(box))
        assert not settings.secrets.allow_dev_secret, name
        ports = {port["name"]: port["containerPort"] for port in box["ports"]}
        metrics_port = (
            settings.metrics.api_port if box["args"] == ["api"] else settings.metrics.port
        )
        assert ports["metrics"] == metrics_port, name
        if box["args"] == ["worker"]:  # the URL it announces to the dashboard is that port
            assert f":{metrics_port}/metrics" in str(settings.metrics.advertised("pod")), name
        annotations = deployment["spec"]["template"]["metadata"]["annotations"]
        assert int(annotations["prometheus.io/port"]) == metrics_port, name
        if "http" in ports:
            assert ports["http"] == settings.api.port, name


def test_compose_redis_cluster_profile_forms_the_cluster_the_apps_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The profile's nodes are what the init container forms and what the usage line
    points the apps at; without the profile the apps keep the single Redis."""
    services = compose()["services"]
    nodes = {name for name in services if name.startswith("redis-node-")}
    assert len(nodes) == 6
    assert all(services[name]["profiles"] == ["redis-cluster"] for name in nodes)
    init = services["redis-cluster-init"]
    assert set(init["depends_on"]) == nodes
    assert "for n in 0 1 2 3 4 5;" in init["command"][0]
    assert "--cluster-replicas 1" in init["command"][0]
    for app in ("worker", "api"):
        assert services[app]["depends_on"]["redis-cluster-init"]["required"] is False
    usage = re.search(r"REDIS_URL=(\S+) REDIS_CLUSTER=(\S+)", COMPOSE.read_text("utf-8"))
    assert usage, "the header says how to run on the cluster"
    env = {k: interpolate(v) for k, v in environment("worker").items()}
    assert not settings_from(monkeypatch, env).redis.cluster
    env |= {"STREAM_APP_REDIS__URL": usage[1], "STREAM_APP_REDIS__CLUSTER": usage[2]}
    assert environment("worker")["STREAM_APP_REDIS__URL"].startswith("${REDIS_URL:-")
    settings = settings_from(monkeypatch, env)
    assert settings.redis.cluster
    assert urlsplit(settings.redis.url).hostname in nodes


def test_k8s_redis_cluster_overlay_points_the_apps_at_its_nodes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The overlay's ConfigMap patch (null deletes a key) over the base makes valid
    settings naming the headless Service of the overlay's StatefulSet, whose password is
    the Secret's Redis password."""
    docs = yaml.safe_load_all((K8S_REDIS_CLUSTER / "redis-cluster.yaml").read_text("utf-8"))
    objects = {(o["kind"], o["metadata"]["name"]): o for o in docs}
    nodes = objects["StatefulSet", "redis-cluster"]
    assert nodes["spec"]["replicas"] == 6
    assert ("Service", nodes["spec"]["serviceName"]) in objects
    patch = yaml.safe_load((K8S_REDIS_CLUSTER / "config-patch.yaml").read_text("utf-8"))
    config = k8s_config() | patch["data"]
    env = {k: str(v) for k, v in (k8s_secret() | config).items() if v is not None}
    settings = settings_from(monkeypatch, env)
    assert settings.redis.cluster
    assert settings.redis.username is None  # the nodes' requirepass is the default user's
    assert urlsplit(settings.redis.url).hostname == nodes["spec"]["serviceName"]
    (box,) = nodes["spec"]["template"]["spec"]["containers"]
    refs = {e["valueFrom"]["secretKeyRef"]["key"] for e in box["env"] if "secretKeyRef" in str(e)}
    assert refs == {"STREAM_APP_REDIS__PASSWORD"}


def test_k8s_secrets_stay_in_the_secret() -> None:
    secrets = secret_variables()
    assert secrets <= set(k8s_secret()), "every secret setting has a place in the Secret"
    assert not secrets & set(k8s_config()), "secrets do not belong in the ConfigMap"
    for _, box in containers():
        assert not secrets & {item["name"] for item in box.get("env", [])}
    for key, value in k8s_secret().items():
        assert value.startswith("REPLACE-ME"), f"{key}: the example holds placeholders only"


def test_k8s_probes_reach_real_endpoints() -> None:
    paths = api_paths() | {"/metrics"}
    for deployment, box in containers():
        ports = {port["name"] for port in box["ports"]}
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            handler = box[probe].get("httpGet") or box[probe].get("tcpSocket")
            where = f"{deployment['metadata']['name']} {probe}"
            assert handler, f"{where}: needs an httpGet or tcpSocket check"
            assert handler["port"] in ports, f"{where}: undeclared port"
            if "path" in handler:
                assert handler["path"] in paths, f"{where}: no endpoint {handler['path']}"
        for source in box["envFrom"]:
            ref = source.get("configMapRef") or source["secretRef"]
            kind = "ConfigMap" if "configMapRef" in source else "Secret"
            k8s_object(kind, ref["name"])


def test_k8s_rules_configmap_loads(tmp_path: Path) -> None:
    """The mounted campaigns and segments are what the worker accepts at start-up."""
    config = k8s_config()
    for name, text in k8s_object("ConfigMap", "stream-app-rules")["data"].items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    campaigns = Path(config["STREAM_APP_DECISIONS__CAMPAIGNS_FILE"]).name
    book = load_campaigns(tmp_path / campaigns)
    rules = SegmentRules(load_segments(tmp_path / Path(config["STREAM_APP_SEGMENTS__FILE"]).name))
    assert book.campaigns
    for campaign in book.campaigns:
        segment = getattr(campaign.trigger, "segment", None)
        assert segment is None or segment in rules.names, f"{campaign.id}: no segment {segment}"


# --- metrics ------------------------------------------------------------------------


def test_every_alert_watches_registered_metrics() -> None:
    for rule in alert_rules():
        used = set(METRIC_NAME.findall(rule["expr"]))
        assert used or "up{" in rule["expr"], f"{rule['alert']} watches no metric"
        unknown = sorted(used - registered_series())
        assert not unknown, f"{rule['alert']}: not registered: {unknown}"


def test_every_alert_has_a_unit_test() -> None:
    tests = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text(encoding="utf-8"))
    tested = {
        case["alertname"]
        for test in tests["tests"]
        for case in test["alert_rule_test"]
        if case["exp_alerts"]
    }
    untested = {rule["alert"] for rule in alert_rules()} - tested
    assert not untested, f"alerts never shown to fire in alerts.test.yml: {sorted(untested)}"


def test_every_dashboard_query_names_registered_metrics() -> None:
    queries = list(dashboard_queries())
    assert queries, "no dashboard under deploy/"
    for title, expr in queries:
        used = set(METRIC_NAME.findall(expr))
        assert used, f"{title} queries no stream_app metric: {expr}"
        unknown = sorted(used - registered_series())
        assert not unknown, f"{title}: not registered: {unknown}"


# --- tools, when installed ----------------------------------------------------------


def test_promtool_checks_configs_rules_and_alert_tests() -> None:
    promtool = tool("promtool")
    for config in ("prometheus.yml", "prometheus-k8s.yml"):
        result = run_tool(promtool, "check", "config", "--syntax-only", config, cwd=PROMETHEUS)
        output = result.stdout + result.stderr
        if "kubernetes_sd_configs not found" in output:
            continue  # a distribution build of promtool without Kubernetes discovery
        assert result.returncode == 0, output
    for args in (("check", "rules", "alerts.yml"), ("test", "rules", "alerts.test.yml")):
        result = run_tool(promtool, *args, cwd=PROMETHEUS)
        assert result.returncode == 0, result.stdout + result.stderr


def test_docker_compose_config() -> None:
    docker = tool("docker")
    if run_tool(docker, "compose", "version").returncode != 0:
        pytest.skip("docker CLI has no compose plugin: `docker compose config` cannot run")
    env = {name: "x" for name in secret_variables()}
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**env, "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("directory", [K8S, K8S_REDIS_CLUSTER], ids=["base", "redis-cluster"])
def test_kubectl_kustomize_builds(directory: Path) -> None:
    result = run_tool(tool("kubectl"), "kustomize", str(directory))
    assert result.returncode == 0, result.stderr
