"""The production stack, checked without a Docker engine: compose schema, Prometheus, Grafana, k8s, image."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import typer
import yaml

from passerelle.broker.acl import ADMIN, BROKER
from passerelle.broker.apache import BROKER_PROPERTIES, kafka_version, read_properties
from passerelle.broker.pki import CA_FILE
from passerelle.cli import app as cli_app
from passerelle.core.contracts.catalogue import Catalogue
from passerelle.core.partners import Profiles
from passerelle.metrics import ServiceMetrics
from passerelle.settings import PROJECT_ROOT, Settings
from passerelle.stack.deployables import SERVICES as KAFKA_SERVICES
from passerelle.stack.rights import principals
from services.registry.settings import RegistrySettings

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE_TEXT = (PROJECT_ROOT / "docker-compose.yml").read_text(encoding="utf-8")
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES = ("milo-adapter", "region-adapter", "router", "indicators", "registry")
# What `passerelle dev certs --dossier ./secrets/certs` writes (passerelle/broker/pki.py) and where the SCRAM
# passwords are kept: ./secrets/kafka/<principal>.password, the layout `passerelle acl apply --mots-de-passe` reads.
CERTS = PurePosixPath("secrets/certs")
PASSWORDS = PurePosixPath("secrets/kafka")
# The group every container that mounts a Compose secret joins to read it (docker-compose.yml, header).
SECRETS_GROUP = "10001"
STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
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
    text = COMPOSE_TEXT
    assert not re.search(r"(?i)(password|secret)\s*[:=]\s*['\"]?\w{6,}", text.replace("pseudonym_secret", ""))


def _kafka_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in COMPOSE["services"].items() if name.startswith("kafka-")}


def _image_variable(setting: str) -> str:
    """The image's variable for a broker setting: it reads ``_`` as ``.``, ``__`` as ``_``, ``___`` as ``-``."""
    return "KAFKA_" + setting.replace("_", "__").replace("-", "___").replace(".", "_").upper()


def _cli_command(path: list[str]) -> Any:
    """The click command ``passerelle <path>`` runs."""
    command = typer.main.get_command(cli_app)
    for name in path:
        assert isinstance(command, typer.core.TyperGroup)
        command = command.commands[name]
    return command


def _topics_create_options(args: list[str]) -> dict[str, Any]:
    """What ``passerelle topics create`` makes of ``args``, defaults included, read by the command's own parser."""
    assert args[:2] == ["topics", "create"], args
    with _cli_command(args[:2]).make_context("create", list(args[2:])) as ctx:
        return dict(ctx.params)


def _acl_passwords_folder(args: list[str]) -> PurePosixPath:
    """The folder ``passerelle acl apply --mots-de-passe`` reads in ``args`` (the option checked against the CLI)."""
    assert args[:2] == ["acl", "apply"], args
    option = "--mots-de-passe"
    assert any(option in param.opts for param in _cli_command(args[:2]).params)
    return PurePosixPath(args[args.index(option) + 1])


def _interpolated(value: Any) -> Any:
    """A Compose value as the container receives it: ``$$`` is one ``$``, and a lone ``$`` would be a variable."""
    if not isinstance(value, str):
        return value
    parts = value.split("$$")
    assert not any("$" in part for part in parts), f"Compose would interpolate a variable in {value!r}"
    return "$".join(parts)


def _listeners(spec: str) -> dict[str, tuple[str, int]]:
    """``CLIENT://kafka-1:9093,INTERNAL://:9092`` as ``{"CLIENT": ("kafka-1", 9093), "INTERNAL": ("", 9092)}``."""
    found: dict[str, tuple[str, int]] = {}
    for item in spec.split(","):
        name, _, address = item.partition("://")
        host, _, port = address.rpartition(":")
        found[name] = (host, int(port))
    return found


def _protocols(spec: str) -> dict[str, str]:
    """``listener.security.protocol.map``: listener name → security protocol."""
    return {name: protocol for name, _, protocol in (item.partition(":") for item in spec.split(","))}


def _advertised(listener: str) -> str:
    """The ``host:port`` of ``listener`` on every Kafka node of the compose file, as a bootstrap list."""
    addresses = []
    for _, service in sorted(_kafka_services().items()):
        host, port = _listeners(service["environment"]["KAFKA_ADVERTISED_LISTENERS"])[listener]
        addresses.append(f"{host}:{port}")
    return ",".join(addresses)


def _compose_secret_files(service: dict[str, Any]) -> dict[str, PurePosixPath]:
    """Each secret a service mounts: where it is in the container → the file it comes from, relative to the project."""
    mounted: dict[str, PurePosixPath] = {}
    for entry in service.get("secrets", []):
        source, target = (entry, None) if isinstance(entry, str) else (entry["source"], entry.get("target"))
        if target is None or not target.startswith("/"):
            target = f"/run/secrets/{target or source}"
        mounted[target] = PurePosixPath(COMPOSE["secrets"][source]["file"])
    return mounted


def _compose_kafka_clients() -> dict[str, dict[str, Any]]:
    """The compose services that run a hop, by the deployable they run (the principal they must run as)."""
    services: dict[str, dict[str, Any]] = COMPOSE["services"]
    return {s["command"][2]: s for s in services.values() if s.get("command", [])[:2] == ["service", "run"]}


def _partners() -> list[str]:
    catalogue = Catalogue.load(PROJECT_ROOT / "schemas" / "avro")
    return Profiles.load(PROJECT_ROOT / "contracts" / "partners", frozenset(catalogue.subjects)).ids


def _secret_variable(name: str) -> bool:
    """A variable that would hold a secret itself rather than name the file holding it."""
    return ("PASSWORD" in name.upper() or "SECRET" in name.upper()) and not name.upper().endswith("_FILE")


def test_compose_kafka_runs_the_tested_version_with_the_settings_of_deploy_kafka() -> None:
    settings = read_properties(BROKER_PROPERTIES)
    assert {"default.replication.factor", "min.insync.replicas", "auto.create.topics.enable"} <= set(settings)
    volumes = COMPOSE.get("volumes") or {}
    for name, service in _kafka_services().items():
        image, _, tag = service["image"].partition(":")
        assert (image, tag) == ("apache/kafka", kafka_version()), name
        env = service["environment"]
        # Strings as the container receives them: an unquoted false or 3 would be YAML's, not the file's.
        assert {k: _interpolated(env.get(_image_variable(k))) for k in settings} == settings, name
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


def test_compose_kafka_listeners_are_secured_and_consistent() -> None:
    nodes = _kafka_services()
    voters = []
    for name, service in sorted(nodes.items()):
        env = {key: _interpolated(value) for key, value in service["environment"].items()}
        # Refused unless an ACL allows it, whatever deploy/kafka says; the operator and the brokers are super users.
        assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == STANDARD_AUTHORIZER, name
        assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false", name
        assert {f"User:{ADMIN}", f"User:{BROKER}"} <= set(env["KAFKA_SUPER_USERS"].split(";")), name
        protocols = _protocols(env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"])
        assert set(protocols.values()) <= {"SASL_SSL", "SSL"}, name  # nothing in plaintext
        assert protocols["CLIENT"] == "SASL_SSL" and env["KAFKA_SASL_ENABLED_MECHANISMS"] == "SCRAM-SHA-512", name
        assert env["KAFKA_SSL_CLIENT_AUTH"] == "required", name  # the CERTS, INTERNAL and CONTROLLER listeners
        controller = env["KAFKA_CONTROLLER_LISTENER_NAMES"]
        listeners = _listeners(env["KAFKA_LISTENERS"])
        assert set(listeners) == set(protocols) and env["KAFKA_INTER_BROKER_LISTENER_NAME"] in listeners, name
        # Every listener but the controller's, advertised under the container's name (the certificate's).
        assert service["hostname"] == name
        advertised = _listeners(env["KAFKA_ADVERTISED_LISTENERS"])
        assert advertised == {lst: (name, port) for lst, (_, port) in listeners.items() if lst != controller}, name
        # The image checks advertised listeners spelled SSL:// or SASL_SSL:// for JKS password files and a JAAS
        # file, which a PEM keystore and per-listener SCRAM do not have: listeners are named otherwise.
        assert not any(lst.endswith("SSL") for lst in advertised), name
        voters.append(f"{env['KAFKA_NODE_ID']}@{name}:{listeners[controller][1]}")
        # The node's key and certificate chain, and the CA: files of `passerelle dev certs`, mounted as secrets.
        files = _compose_secret_files(service)
        assert files[env["KAFKA_SSL_KEYSTORE_LOCATION"]] == CERTS / f"{BROKER}-keystore.pem", name
        assert files[env["KAFKA_SSL_TRUSTSTORE_LOCATION"]] == CERTS / CA_FILE, name
    assert len({voter.partition("@")[0] for voter in voters}) == len(nodes)
    for name, service in nodes.items():
        assert service["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",") == voters, name


def test_compose_formats_each_node_with_the_administrators_credential(tmp_path: Path) -> None:
    """The one-shot step before each node formats its volume with the node's own settings and ``--add-scram``.

    Its script is run here by bash with ``kafka-storage.sh`` replaced by a printout of its arguments.
    """
    bash = shutil.which("bash")
    assert bash
    services = COMPOSE["services"]
    settings = read_properties(BROKER_PROPERTIES)
    secret = tmp_path / "admin.password"
    for name, node in sorted(_kafka_services().items()):
        [step_name] = [s for s, c in node["depends_on"].items() if c == {"condition": "service_completed_successfully"}]
        step = services[step_name]
        assert step["image"] == node["image"] and step["environment"] == node["environment"], name
        [data] = [m for m in node["volumes"] if m.endswith(f":{node['environment']['KAFKA_LOG_DIRS']}")]
        assert data in step["volumes"], name
        [password_file] = [t for t, f in _compose_secret_files(step).items() if f == PASSWORDS / f"{ADMIN}.password"]
        assert step["entrypoint"][0].endswith("/bash") and step["entrypoint"][-1] == "-c"
        script = _interpolated(step["command"][-1])
        storage_tool = "exec /opt/kafka/bin/kafka-storage.sh"
        for part in (password_file, "/tmp/format.properties", storage_tool):
            assert part in script, part
        script = (
            script.replace(password_file, str(secret))
            .replace("/tmp/format.properties", str(tmp_path / "format.properties"))
            .replace(storage_tool, "printf '%s\\n'")
        )
        env = {key: str(_interpolated(value)) for key, value in step["environment"].items()}
        env |= {"PATH": "/usr/bin:/bin", "KAFKA_HEAP_OPTS": "-Xmx1g"}  # an _OPTS variable is the JVM's, not a setting

        secret.write_text("mot-de-passe-de-test\n", encoding="utf-8")
        run = subprocess.run([bash, *step["entrypoint"][1:], script], env=env, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        args = run.stdout.splitlines()
        assert args[0] == "format" and "--ignore-formatted" in args, args
        assert args[args.index("--cluster-id") + 1] == env["CLUSTER_ID"]
        assert args[args.index("--add-scram") + 1] == f"SCRAM-SHA-512=[name={ADMIN},password=mot-de-passe-de-test]"
        written = read_properties(Path(args[args.index("--config") + 1]))
        assert {key: written.get(key) for key in settings} == settings, name
        assert written["node.id"] == env["KAFKA_NODE_ID"] and written["log.dirs"] == env["KAFKA_LOG_DIRS"], name
        assert written["listeners"] == env["KAFKA_LISTENERS"] and "kafka.heap.opts" not in written, name

        # A comma would end the credential early in kafka-storage's parser: refused rather than cut.
        secret.write_text("avec,virgule\n", encoding="utf-8")
        run = subprocess.run([bash, *step["entrypoint"][1:], script], env=env, capture_output=True, text=True)
        assert run.returncode != 0 and not run.stdout


def test_compose_services_run_as_their_own_principal_over_sasl_ssl() -> None:
    clients = _compose_kafka_clients()
    assert set(clients) == set(KAFKA_SERVICES)
    for principal, service in clients.items():
        env = service["environment"]
        assert env["PASSERELLE_KAFKA_SECURITY"] == "SASL_SSL", principal
        assert env["PASSERELLE_KAFKA_BOOTSTRAP"] == _advertised("CLIENT"), principal
        assert env["PASSERELLE_KAFKA_USERNAME"] == principal
        files = _compose_secret_files(service)
        assert files[env["PASSERELLE_KAFKA_CA_FILE"]] == CERTS / CA_FILE, principal
        # Its own password, the one the acl job sets for its name, and no one else's.
        assert files[env["PASSERELLE_KAFKA_PASSWORD_FILE"]] == PASSWORDS / f"{principal}.password", principal
        assert [f for f in files.values() if f.parent == PASSWORDS] == [PASSWORDS / f"{principal}.password"]
    # No two long-running services share a principal; only the operator's one-shot commands run as admin.
    users = Counter(
        s["environment"]["PASSERELLE_KAFKA_USERNAME"]
        for s in COMPOSE["services"].values()
        if "PASSERELLE_KAFKA_USERNAME" in s.get("environment", {}) and s.get("restart") != "no"
    )
    assert ADMIN not in users and all(count == 1 for count in users.values()), users
    # The contract registry never connects to Kafka.
    assert not [k for k in COMPOSE["services"]["registry"]["environment"] if k.startswith("PASSERELLE_KAFKA_")]
    # Karapace as the operator, by certificate on the mutual-TLS listeners (its _schemas topic is in no ACL).
    karapace = COMPOSE["services"]["karapace"]["environment"]
    assert karapace["KARAPACE_SECURITY_PROTOCOL"] == "SSL"
    assert karapace["KARAPACE_BOOTSTRAP_URI"] == _advertised("CERTS")
    files = _compose_secret_files(COMPOSE["services"]["karapace"])
    assert files[karapace["KARAPACE_SSL_CERTFILE"]] == CERTS / f"{ADMIN}.pem"
    assert files[karapace["KARAPACE_SSL_KEYFILE"]] == CERTS / f"{ADMIN}-key.pem"
    assert files[karapace["KARAPACE_SSL_CAFILE"]] == CERTS / CA_FILE


def test_compose_operator_jobs_create_topics_then_apply_acls() -> None:
    services = COMPOSE["services"]
    admins = {n for n, s in services.items() if s.get("environment", {}).get("PASSERELLE_KAFKA_USERNAME") == ADMIN}
    assert admins == {"topics", "acl"}
    for name in admins:
        service, env = services[name], services[name]["environment"]
        assert service["restart"] == "no" and env["PASSERELLE_KAFKA_SECURITY"] == "SASL_SSL", name
        assert env["PASSERELLE_KAFKA_BOOTSTRAP"] == _advertised("CLIENT"), name
        files = _compose_secret_files(service)
        assert files[env["PASSERELLE_KAFKA_PASSWORD_FILE"]] == PASSWORDS / f"{ADMIN}.password", name
        assert files[env["PASSERELLE_KAFKA_CA_FILE"]] == CERTS / CA_FILE, name
    # The ACL job sets the credential of each principal whose <principal>.password it mounts in its folder: the
    # operator's and every service's at least, and only those of known principals.
    acl = services["acl"]
    folder = _acl_passwords_folder(acl["command"])
    mounted = {PurePosixPath(t): f for t, f in _compose_secret_files(acl).items() if PurePosixPath(t).parent == folder}
    assert all(target.name == file.name and file.parent == PASSWORDS for target, file in mounted.items()), mounted
    names = {target.name.removesuffix(".password") for target in mounted}
    assert {ADMIN, *KAFKA_SERVICES} <= names <= set(principals(_partners())), names
    # In order: the nodes, the topics, the ACLs and credentials, then the services.
    for node in _kafka_services():
        assert services["topics"]["depends_on"][node] == {"condition": "service_healthy"}
    assert acl["depends_on"]["topics"] == {"condition": "service_completed_successfully"}
    for principal, service in _compose_kafka_clients().items():
        assert service["depends_on"]["acl"] == {"condition": "service_completed_successfully"}, principal


def test_compose_secrets_are_mounted_files_never_values() -> None:
    for name, secret in COMPOSE["secrets"].items():
        assert set(secret) == {"file"} and PurePosixPath(secret["file"]).parts[0] == "secrets", name
    # The format steps share their node's settings, TLS files included, which formatting never opens.
    format_steps = {step for node in _kafka_services().values() for step in node["depends_on"]}
    for name, service in COMPOSE["services"].items():
        env = service.get("environment", {})
        assert not [key for key in env if _secret_variable(key)], name
        files = _compose_secret_files(service)
        # Every secret file a container is told about is mounted in it.
        for key, value in env.items():
            if str(value).startswith("/run/secrets/") and name not in format_steps:
                assert value in files, (name, key)
        # Compose cannot set a secret's owner or mode: the container reads it through the secrets' group.
        if files:
            assert SECRETS_GROUP in service.get("group_add", []), name
    # A password= in the file (the format step's) is a shell variable, read from a secret file at run time.
    assert all(value.startswith("$$") for value in re.findall(r"(?i)password=(\S*)", COMPOSE_TEXT))


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


def _k8s_files() -> dict[str, list[dict[str, Any]]]:
    return {
        path.name: [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
        for path in sorted((DEPLOY / "k8s").glob("*.yaml"))
    }


def _k8s() -> list[dict[str, Any]]:
    return [doc for docs in _k8s_files().values() for doc in docs]


K8S_PASSWORDS = "passerelle-kafka-passwords"  # the Secret of the SCRAM passwords, <principal>.password each
K8S_CA = "passerelle-kafka-ca"  # the ConfigMap of the CA that signed the brokers' certificates


def _k8s_containers(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """Every container of the Deployments, StatefulSets and Jobs: its workload's name, its pod spec, itself."""
    found = []
    for doc in docs:
        if doc["kind"] in {"Deployment", "StatefulSet", "Job"}:
            pod = doc["spec"]["template"]["spec"]
            found += [(doc["metadata"]["name"], pod, c) for c in pod.get("initContainers", []) + pod["containers"]]
    return found


def _k8s_env(container: dict[str, Any], docs: list[dict[str, Any]]) -> dict[str, Any]:
    """The container's variables with the values of the ConfigMaps they come from (others, like a fieldRef, None)."""
    configs = {d["metadata"]["name"]: d.get("data", {}) for d in docs if d["kind"] == "ConfigMap"}
    env: dict[str, Any] = {}
    for source in container.get("envFrom", []):
        env |= configs[source["configMapRef"]["name"]]
    for entry in container.get("env", []):
        ref = entry.get("valueFrom", {}).get("configMapKeyRef")
        env[entry["name"]] = configs[ref["name"]][ref["key"]] if ref else entry.get("value")
    return env


def _k8s_file(pod: dict[str, Any], container: dict[str, Any], path: str) -> tuple[str, str, str] | None:
    """Where a file of the container comes from: ("secret" or "configMap", its name, its key), or None."""
    file = PurePosixPath(path)
    for mount in container.get("volumeMounts", []):
        if PurePosixPath(mount["mountPath"]) != file.parent:
            continue
        [volume] = [v for v in pod.get("volumes", []) if v["name"] == mount["name"]]
        kind = "secret" if "secret" in volume else "configMap"
        source = volume[kind]
        keys = {item["path"]: item["key"] for item in source.get("items", [])} if "items" in source else None
        key = file.name if keys is None else keys.get(file.name)
        return (kind, source["secretName" if kind == "secret" else "name"], key) if key else None
    return None


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


def test_kubernetes_services_run_as_their_own_principal_over_sasl_ssl() -> None:
    docs = _k8s()
    hops = [(pod, c) for _, pod, c in _k8s_containers(docs) if c.get("args", [])[:2] == ["service", "run"]]
    clients = {c["args"][2]: (pod, c) for pod, c in hops}
    assert set(clients) == set(KAFKA_SERVICES)
    client_port = int(_advertised("CLIENT").rpartition(":")[2])
    for principal, (pod, container) in clients.items():
        env = _k8s_env(container, docs)
        assert env["PASSERELLE_KAFKA_SECURITY"] == "SASL_SSL", principal
        # The brokers' SCRAM-over-TLS listener, on the port docker-compose.yml gives it.
        assert {int(a.rpartition(":")[2]) for a in env["PASSERELLE_KAFKA_BOOTSTRAP"].split(",")} == {client_port}
        assert env["PASSERELLE_KAFKA_USERNAME"] == principal  # its own, hence no two services share one
        assert _k8s_file(pod, container, env["PASSERELLE_KAFKA_CA_FILE"]) == ("configMap", K8S_CA, CA_FILE)
        password = _k8s_file(pod, container, env["PASSERELLE_KAFKA_PASSWORD_FILE"])
        assert password == ("secret", K8S_PASSWORDS, f"{principal}.password"), principal
        # Only its own key of the passwords' Secret is in the pod, never the others'.
        for volume in pod["volumes"]:
            if volume.get("secret", {}).get("secretName") == K8S_PASSWORDS:
                assert [i["key"] for i in volume["secret"].get("items", [])] == [f"{principal}.password"], principal


def test_kubernetes_jobs_create_topics_and_apply_acls_as_the_operator() -> None:
    files = _k8s_files()
    docs = _k8s()
    jobs = {name: (pod, c) for name, pod, c in _k8s_containers(docs) if name in {"passerelle-topics", "passerelle-acl"}}
    assert set(jobs) == {"passerelle-topics", "passerelle-acl"}
    for name, (pod, container) in jobs.items():
        env = _k8s_env(container, docs)
        assert env["PASSERELLE_KAFKA_USERNAME"] == ADMIN and env["PASSERELLE_KAFKA_SECURITY"] == "SASL_SSL", name
        assert _k8s_file(pod, container, env["PASSERELLE_KAFKA_CA_FILE"]) == ("configMap", K8S_CA, CA_FILE), name
        admin_password = ("secret", K8S_PASSWORDS, f"{ADMIN}.password")
        assert _k8s_file(pod, container, env["PASSERELLE_KAFKA_PASSWORD_FILE"]) == admin_password, name
    # The ACL job reads the whole Secret: it sets the credential of every principal that has a key there.
    pod, container = jobs["passerelle-acl"]
    folder = str(_acl_passwords_folder(container["args"]))
    [mount] = [m for m in container["volumeMounts"] if m["mountPath"] == folder]
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert volume["secret"]["secretName"] == K8S_PASSWORDS and "items" not in volume["secret"]
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text(encoding="utf-8"))
    deployed = {d["metadata"]["name"] for f in kustomization["resources"] for d in files[f] if d["kind"] == "Job"}
    assert {"passerelle-topics", "passerelle-acl"} <= deployed


def test_kubernetes_secrets_are_mounted_files_never_values() -> None:
    docs = _k8s()
    for doc in docs:
        if doc["kind"] == "ConfigMap":
            assert not [key for key in doc.get("data", {}) if _secret_variable(key)], doc["metadata"]["name"]
        if doc["kind"] == "Secret":  # examples only (secret.example.yaml): placeholders, never a value
            assert "data" not in doc and set(doc["stringData"].values()) == {"remplacez-moi"}, doc["metadata"]["name"]
    for name, pod, container in _k8s_containers(docs):
        for entry in container.get("env", []):
            assert not _secret_variable(entry["name"]) and "secretKeyRef" not in entry.get("valueFrom", {}), name
            assert "password=" not in str(entry.get("value", "")).lower(), name
        # The files a Passerelle process reads as it starts are mounted in its container.
        env = _k8s_env(container, docs)
        for key in ("PASSERELLE_PSEUDONYM_SECRET_FILE", "PASSERELLE_KAFKA_PASSWORD_FILE", "PASSERELLE_KAFKA_CA_FILE"):
            if key in env:
                assert _k8s_file(pod, container, env[key]), (name, key)
    # The passwords' Secret, as the example shows it: one key per principal of the profiles and services.
    [passwords] = [d for d in docs if d["kind"] == "Secret" and d["metadata"]["name"] == K8S_PASSWORDS]
    assert set(passwords["stringData"]) == {f"{p}.password" for p in principals(_partners())}


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
    registry = {f"REGISTRY_{name.upper()}" for name in RegistrySettings.model_fields}
    assert documented == {name.upper() for name in Settings.model_fields} | registry
