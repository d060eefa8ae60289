"""The production stack, checked without a Docker engine: compose schema, Prometheus, Grafana, k8s, image."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml

from passerelle.broker.apache import BROKER_PROPERTIES, kafka_version, read_properties
from passerelle.cli import app as cli_app
from passerelle.metrics import ServiceMetrics
from passerelle.settings import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE = yaml.safe_load((PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
SERVICES = ("milo-adapter", "region-adapter", "router", "indicators", "registry")
INDICATOR_METRICS = {
    "passerelle_indicateur_delai_positionnement_entree_jours",
    "passerelle_indicateur_delai_positionnement_statut_jours",
    "passerelle_indicateur_delai_signalement_contact_jours",
    "passerelle_indicateur_part_positionnements_entres_ratio",
    "passerelle_indicateur_part_liste_attente_ratio",
    "passerelle_indicateur_positionnements",
}


def _promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool absent : « make test » installe le paquet Debian prometheus"
    return found


def _known_metrics() -> set[str]:
    names = set(INDICATOR_METRICS) | {"up", "time"}
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "info": ("_info",), "gauge": ("",)}
    for family in ServiceMetrics("x").registry.collect():
        names.update(family.name + suffix for suffix in suffixes.get(family.type, ("",)))
    return names


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads((Path(__file__).parent / "compose-spec.json").read_text(encoding="utf-8"))
    # The specification names its draft as http://…/2019-09/schema#, a spelling jsonschema does not look up.
    jsonschema.Draft201909Validator.check_schema(schema)
    jsonschema.Draft201909Validator(schema).validate(COMPOSE)


def test_compose_production_settings() -> None:
    services = COMPOSE["services"]
    for name in SERVICES:
        service = services[name]
        assert service["image"] == "passerelle:latest" and service["build"] == "."
        env = service["environment"]
        assert env["PASSERELLE_PRODUCER_IDEMPOTENCE"] == "true" and env["PASSERELLE_PRODUCER_ACKS"] == "all"
        assert "PASSERELLE_PSEUDONYM_SECRET" not in env  # the key comes from a secret file only
        # The audit signing key is the router's alone.
        assert ("audit_signing_key" in service.get("secrets", [])) == (name == "router")
    router = services["router"]["environment"]
    assert router["PASSERELLE_AUDIT_SIGNING_KEY_FILE"] == "/run/secrets/audit_signing_key"
    assert router["PASSERELLE_INSTANCE_ID"] == "router-0"
    assert COMPOSE["secrets"]["audit_signing_key"]["file"].startswith("./secrets/")
    assert len(_kafka_services()) == 3
    assert "karapace" in services["karapace"]["image"]
    assert services["topics"]["command"][:2] == ["topics", "create"]
    assert COMPOSE["secrets"]["pseudonym_secret"]["file"].startswith("./secrets/")
    text = (PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    assert not re.search(r"(?i)(password|secret)\s*[:=]\s*['\"]?\w{6,}", text.replace("pseudonym_secret", ""))


def _kafka_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in COMPOSE["services"].items() if name.startswith("kafka-")}


def _image_variable(setting: str) -> str:
    """The image's variable for a broker setting: it reads ``_`` as ``.``, ``__`` as ``_``, ``___`` as ``-``."""
    return "KAFKA_" + setting.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def _topics_create_options(args: list[str]) -> dict[str, Any]:
    """What ``passerelle topics create`` makes of ``args``, defaults included, read by the command's own parser."""
    assert args[:2] == ["topics", "create"], args
    command = typer.main.get_command(cli_app)
    for name in args[:2]:
        assert isinstance(command, typer.core.TyperGroup)
        command = command.commands[name]
    with command.make_context("create", list(args[2:])) as ctx:
        return dict(ctx.params)


def test_compose_kafka_runs_the_tested_version_with_the_settings_of_deploy_kafka() -> None:
    settings = read_properties(BROKER_PROPERTIES)
    assert {"default.replication.factor", "min.insync.replicas", "auto.create.topics.enable"} <= set(settings)
    volumes = COMPOSE.get("volumes") or {}
    for name, service in _kafka_services().items():
        image, _, tag = service["image"].partition(":")
        assert (image, tag) == ("apache/kafka", kafka_version()), name
        env = service["environment"]
        # Strings as the container receives them: an unquoted false or 3 would be YAML's, not the file's.
        assert {k: env.get(_image_variable(k)) for k in settings} == settings, name
        # The data on a named volume where the broker writes, not in the container's /tmp.
        data = env["KAFKA_LOG_DIRS"]
        [mount] = [m for m in service["volumes"] if m.endswith(f":{data}")]
        assert mount.split(":")[0] in volumes, name


@pytest.mark.parametrize("where", ["k8s", "compose"])
def test_topics_are_created_with_the_replication_of_deploy_kafka(where: str) -> None:
    settings = read_properties(BROKER_PROPERTIES)
    if where == "k8s":
        [job] = [d for d in _k8s() if d["kind"] == "Job" and d["metadata"]["name"] == "passerelle-topics"]
        [container] = job["spec"]["template"]["spec"]["containers"]
        assert "command" not in container  # the image's entrypoint, passerelle, reads the args
        args = container["args"]
    else:
        args = COMPOSE["services"]["topics"]["command"]
    options = _topics_create_options(args)
    assert options["replication_factor"] == int(settings["default.replication.factor"])
    assert options["min_insync"] == int(settings["min.insync.replicas"])


def test_prometheus_configuration_and_rules() -> None:
    promtool = _promtool()
    check = subprocess.run(
        [promtool, "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    tests = subprocess.run(
        [promtool, "test", "rules", "tests/passerelle_test.yml"],
        cwd=DEPLOY / "prometheus",
        capture_output=True,
        text=True,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    rules = yaml.safe_load((DEPLOY / "prometheus" / "rules" / "passerelle.yml").read_text(encoding="utf-8"))
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"] if "alert" in r}
    assert alerts == {
        "PasserelleServiceDown",
        "PasserelleDlqSpike",
        "PasserelleConsumerLagGrowing",
        "PasserellePartnerSilent",
        "PasserelleLatencySloBurn",
    }
    tested = (DEPLOY / "prometheus" / "tests" / "passerelle_test.yml").read_text(encoding="utf-8")
    assert all(f"alertname: {a}" in tested for a in alerts)


@pytest.mark.parametrize("path", sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")), ids=lambda p: p.stem)
def test_dashboards_use_the_provisioned_datasource_and_real_metrics(path: Path) -> None:
    datasource = yaml.safe_load((DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    dashboard = json.loads(path.read_text(encoding="utf-8"))
    known = _known_metrics()
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert panels
    for panel in panels:
        assert panel["datasource"]["uid"] == uid
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == uid
            names = set(re.findall(r"\b(passerelle_[a-z_]+|up)\b", target["expr"]))
            assert names and names <= known, names - known


def _k8s() -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        docs += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    return docs


def test_kubernetes_manifests() -> None:
    docs = _k8s()
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] in {"Deployment", "StatefulSet"}}
    assert set(deployments) == set(SERVICES)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["readinessProbe"] and container["livenessProbe"] and container["resources"]["limits"]
        secrets = {v["secret"]["secretName"] for v in pod.get("volumes", []) if "secret" in v}
        assert ("passerelle-audit-signing" in secrets) == (name == "router")  # the router's key, and its only
    # The router's pods have stable names, and each names its audit chain: the chain survives a restart.
    router = deployments["router"]
    assert router["kind"] == "StatefulSet"
    [instance] = [e for e in router["spec"]["template"]["spec"]["containers"][0]["env"] if "INSTANCE_ID" in e["name"]]
    assert instance["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "passerelle-config")
    assert config["data"]["PASSERELLE_AUDIT_SIGNING_KEY_FILE"].startswith("/run/secrets/passerelle-audit/")
    hpas = {d["spec"]["scaleTargetRef"]["name"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    assert {"milo-adapter", "region-adapter", "router"} <= hpas
    assert any(d["kind"] == "Job" for d in docs)
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text(encoding="utf-8"))
    assert all((DEPLOY / "k8s" / r).is_file() for r in kustomization["resources"])


def test_image_installs_what_the_makefile_installs() -> None:
    dockerfile = (PROJECT_ROOT / "Dockerfile").read_text(encoding="utf-8")
    makefile = (PROJECT_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "pip install --quiet -e '.[dev]'" in makefile
    assert "pip install --quiet ." in dockerfile  # the same distribution, without the editable dev tooling
    assert "USER passerelle" in dockerfile and "HEALTHCHECK" in dockerfile
    for folder in ("passerelle", "services", "schemas", "contracts"):
        assert f"COPY {folder}" in dockerfile


def test_configuration_table_lists_every_setting() -> None:
    table = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `PASSERELLE_([A-Z_]+)`", table, flags=re.M))
    assert documented == {name.upper() for name in Settings.model_fields}
