"""A real Apache Kafka on loopback, without Docker: the broker's jars from Maven Central, run with ``java``.

The tests use it to run what production runs, and ``passerelle dev up --broker kafka`` is to. ``deploy/kafka`` holds
the pinned version (``pom.xml``), the broker settings (``broker.properties``, ``single-node.properties``) and
the logging configuration; this module only adds what is per node (id, ports, data folder).

Each node runs in KRaft combined mode (broker and controller in one JVM, static ``controller.quorum.voters``),
in its own process group so that stopping it leaves nothing behind.
"""

from __future__ import annotations

import atexit
import base64
import concurrent.futures
import contextlib
import fcntl
import functools
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from passerelle.broker.access import KafkaAccess
from passerelle.broker.acl import ADMIN, ClusterRights
from passerelle.broker.embedded import LOOPBACK, BrokerStartError, free_port, port_is_free
from passerelle.broker.pki import LocalCA, ensure_dev_pki
from passerelle.settings import PROJECT_ROOT

KAFKA_DIR = PROJECT_ROOT / "deploy" / "kafka"
POM = KAFKA_DIR / "pom.xml"
BROKER_PROPERTIES = KAFKA_DIR / "broker.properties"
SINGLE_NODE_PROPERTIES = KAFKA_DIR / "single-node.properties"
LOG4J2_CONFIGURATION = KAFKA_DIR / "log4j2.properties"
CACHE_DIR = PROJECT_ROOT / ".cache" / "kafka"

# Low-footprint JVM: the nodes share two cores with the services and the tests. The serial collector needs no
# GC threads, and C1 alone reaches steady speed sooner than C2 on a short-lived test broker.
JVM_OPTIONS = (
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
DEFAULT_HEAP = "512m"
# What Kafka's own start script (kafka-run-class.sh, so the apache/kafka image) gives the broker: the benchmarks
# measure the broker as production runs it, not the test footprint above.
PRODUCTION_JVM_OPTIONS = (
    "-XX:+UseG1GC",
    "-XX:MaxGCPauseMillis=20",
    "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent",
    "-XX:MaxInlineLevel=15",
    "-XX:+ExitOnOutOfMemoryError",
    "-Djava.awt.headless=true",
)
PRODUCTION_HEAP = "1g"
STORAGE_TOOL = "kafka.tools.StorageTool"
MAIN_CLASS = "kafka.Kafka"
STOP_GRACE_S = 20.0


def kafka_version(pom: Path = POM) -> str:
    """The Kafka version pinned in ``deploy/kafka/pom.xml``."""
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    root = ET.parse(pom).getroot()  # noqa: S314 - the repository's own POM
    version = root.findtext("m:properties/m:kafka.version", namespaces=ns)
    if not version:
        raise BrokerStartError(f"{pom} ne fixe pas la propriété kafka.version")
    return version.strip()


def kafka_classpath(cache: Path = CACHE_DIR, pom: Path = POM) -> Path:
    """Folder of the broker's jars (``<cache>/<version>-<pom digest>/lib``), fetched by Maven the first time only.

    Any change to the POM (a log4j bump, say) gets its own folder, so stale jars are never reused. Maven checks
    every artifact's checksum (``--strict-checksums``); the folder appears only once complete, so an
    interrupted fetch is started over, and a lock lets concurrent callers wait for one fetch.
    """
    home = cache / f"{kafka_version(pom)}-{hashlib.sha256(pom.read_bytes()).hexdigest()[:8]}"
    lib = home / "lib"
    if lib.is_dir():
        return lib
    mvn = shutil.which("mvn")
    if mvn is None:
        raise BrokerStartError(
            "Maven (mvn) est introuvable : il sert à récupérer Apache Kafka ; lancez « make kafka-jars » "
            "ou installez le paquet maven"
        )
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if lib.is_dir():  # fetched by another process while this one waited for the lock
            return lib
        partial = Path(tempfile.mkdtemp(prefix="lib-", dir=home))
        command = [
            mvn,
            "--batch-mode",
            "--quiet",
            "--strict-checksums",
            "-f",
            str(pom),
            f"-Dmaven.repo.local={cache / 'm2'}",
            "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0 or not any(partial.glob("kafka_2.13-*.jar")):
            shutil.rmtree(partial, ignore_errors=True)
            plain = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)  # Maven colours even in batch mode
            output = "\n".join(line for line in plain.splitlines()[-20:] if line.strip())
            raise BrokerStartError(f"Maven n'a pas pu récupérer Apache Kafka {kafka_version(pom)} :\n{output}")
        partial.chmod(0o755)  # mkdtemp makes it private; the cache is the project's, not this user's
        partial.rename(lib)
    return lib


def read_properties(path: Path) -> dict[str, str]:
    """A Java ``.properties`` file as written in ``deploy/kafka``: ``key=value`` lines and ``#`` comments."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{path} : ligne sans « = » : {raw!r}")
        values[key.strip()] = value.strip()
    return values


def broker_settings(nodes: int) -> dict[str, str]:
    """The broker settings of a cluster of ``nodes`` nodes, from ``deploy/kafka``."""
    settings = read_properties(BROKER_PROPERTIES)
    if nodes == 1:
        settings |= read_properties(SINGLE_NODE_PROPERTIES)
    return settings


def new_cluster_id() -> str:
    """A random cluster id in Kafka's format (a UUID, URL-safe base64 without padding)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):  # as Kafka does: it would read as a command-line option
            return cluster_id


def metadata_brokers(host: str, port: int, timeout: float = 2.0, tls: ssl.SSLContext | None = None) -> set[int]:
    """Ids of the live brokers a node reports in a Kafka Metadata (v4) response: a real protocol round trip.

    A KRaft broker processes requests only once it has caught up with the metadata log and is unfenced. ``tls``
    connects to a TLS listener (the brokers' own, with their certificate).
    """
    client_id = b"passerelle"
    # Header v1 (api_key 3 = Metadata, version 4, correlation id, client id); body: no topics, no auto-creation.
    body = struct.pack(">hhih", 3, 4, 1, len(client_id)) + client_id + struct.pack(">ib", 0, 0)
    with contextlib.ExitStack() as stack:
        sock = stack.enter_context(socket.create_connection((host, port), timeout=timeout))
        if tls is not None:
            sock = stack.enter_context(tls.wrap_socket(sock, server_hostname=host))
        sock.sendall(struct.pack(">i", len(body)) + body)
        (size,) = struct.unpack(">i", _receive(sock, 4))
        response = _receive(sock, size)
    correlation_id, _throttle_ms, count = struct.unpack_from(">iii", response, 0)
    if correlation_id != 1:
        raise ConnectionError(f"réponse Metadata inattendue (corrélation {correlation_id})")
    offset, ids = 12, set()
    for _ in range(count):
        (node_id, host_len) = struct.unpack_from(">ih", response, offset)
        offset += 6 + host_len + 4  # node id, host, port
        (rack_len,) = struct.unpack_from(">h", response, offset)
        offset += 2 + max(rack_len, 0)
        ids.add(node_id)
    return ids


def _receive(sock: socket.socket, size: int) -> bytes:
    chunks, remaining = [], size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("connexion fermée par le broker")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _write_properties(path: Path, values: Mapping[str, str]) -> None:
    lines = ["# Written by passerelle.broker.apache at each start, from deploy/kafka: edit those files instead."]
    path.write_text("\n".join([*lines, *(f"{k}={v}" for k, v in values.items())]) + "\n", encoding="utf-8")


@dataclass
class KafkaNode:
    """One Kafka process (broker and controller): its id, ports and folder, which outlive restarts."""

    node_id: int
    home: Path
    port: int  # SCRAM over TLS: partners, services, the operator
    controller_port: int
    tls_port: int = field(default_factory=free_port)  # mutual TLS: partners who prefer a certificate
    internal_port: int = field(default_factory=free_port)  # the brokers' own, authenticated by their certificate
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def properties(self) -> Path:
        return self.home / "server.properties"

    @property
    def log_file(self) -> Path:
        return self.home / "kafka.log"

    @property
    def address(self) -> str:
        return f"{LOOPBACK}:{self.port}"

    @property
    def ports(self) -> tuple[int, ...]:
        return self.port, self.controller_port, self.tls_port, self.internal_port

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def formatted(self) -> bool:
        return (self.data_dir / "meta.properties").is_file()

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_file.is_file():
            return ""
        with self.log_file.open("rb") as log:
            start = max(0, log.seek(0, os.SEEK_END) - 300 * lines)  # enough bytes for the last lines
            log.seek(start)
            text = log.read().decode(errors="replace").splitlines()
        return "\n".join(text[1 if start else 0 :][-lines:])  # the first line read may be cut


class KafkaCluster:
    """``nodes`` Apache Kafka nodes on free loopback ports: one for development, three for production-like tests.

    ``data_dir`` keeps the data across runs (a later ``start`` resumes it); without it, a temporary folder is
    removed by ``close``. ``overrides`` adds broker settings on top of ``deploy/kafka`` (tests only).

    Secured as in production: SCRAM-SHA-512 over TLS on ``bootstrap``, mutual TLS on ``tls_bootstrap``, the
    brokers between themselves on TLS with their certificate, and Kafka's StandardAuthorizer refusing whatever
    no ACL allows. The cluster keeps its local CA (``pki/``) and the passwords it made (``secrets/``, mode 0600)
    in ``data_dir``; the administrator's SCRAM credential is written when the storage is formatted.
    """

    def __init__(
        self,
        nodes: int = 1,
        data_dir: Path | None = None,
        heap: str = DEFAULT_HEAP,
        start_timeout: float = 60.0,
        overrides: Mapping[str, str] | None = None,
        java: str = "java",
        jvm_options: Sequence[str] = JVM_OPTIONS,
    ) -> None:
        if nodes != 1 and nodes < 3:
            raise ValueError(f"un cluster Kafka a 1 nœud ou au moins 3 (réplication 3), pas {nodes}")
        self._owns_dir = data_dir is None
        self.data_dir = Path(tempfile.mkdtemp(prefix="kafka-")) if data_dir is None else data_dir
        self.heap = heap
        self.start_timeout = start_timeout
        self.overrides = dict(overrides or {})
        self.java = java
        self.jvm_options = tuple(jvm_options)
        self.nodes = [KafkaNode(i + 1, self.data_dir / f"node-{i + 1}", free_port(), free_port()) for i in range(nodes)]
        self._classpath: Path | None = None
        self._recording: tuple[KafkaNode, Path] | None = None
        self.pki = ensure_dev_pki(self.data_dir / "pki", [ADMIN])

    @property
    def bootstrap(self) -> str:
        """The SCRAM-over-TLS listeners."""
        return ",".join(node.address for node in self.nodes)

    @property
    def tls_bootstrap(self) -> str:
        """The mutual-TLS listeners."""
        return ",".join(f"{LOOPBACK}:{node.tls_port}" for node in self.nodes)

    @property
    def access(self) -> KafkaAccess:
        """The administrator's: a super user, whom no ACL limits."""
        return KafkaAccess(self.bootstrap).as_user(ADMIN, self.password_of(ADMIN)).with_ca(self.pki.ca_cert)

    def password_of(self, principal: str) -> str:
        """The principal's SCRAM password, made the first time it is asked for and kept in ``secrets/``."""
        secrets_dir = self.data_dir / "secrets"
        secrets_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = secrets_dir / f"{principal}.password"
        if not path.is_file():  # written aside then renamed: a concurrent reader never sees it empty
            partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
            partial.touch(mode=0o600)
            partial.write_text(secrets.token_urlsafe(24), encoding="utf-8")
            partial.replace(path)
        return path.read_text(encoding="utf-8").strip()

    def user(self, principal: str) -> KafkaAccess:
        """A principal with a SCRAM credential on the running cluster (made or renewed now), and its access."""
        password = self.password_of(principal)
        ClusterRights(self.access).set_passwords({principal: password})
        return KafkaAccess(self.bootstrap).as_user(principal, password).with_ca(self.pki.ca_cert)

    def certificate(self, principal: str) -> KafkaAccess:
        """A principal's access by client certificate (issued by the cluster's CA) on the mutual-TLS listeners."""
        issued = LocalCA.open(self.pki.folder)[0].ensure_client(principal)
        return KafkaAccess(self.tls_bootstrap).with_ca(self.pki.ca_cert).with_certificate(issued.cert, issued.key)

    @property
    def cluster_id(self) -> str | None:
        """The id the data folders were formatted with, if they were."""
        for node in self.nodes:
            if node.formatted:
                return read_properties(node.data_dir / "meta.properties").get("cluster.id")
        return None

    def start(self) -> KafkaCluster:
        """Format the folders not yet formatted, start every node, and wait until each serves all of them."""
        if any(node.running for node in self.nodes):
            raise BrokerStartError("ce cluster Kafka tourne déjà : arrêtez-le avant de le redémarrer")
        for node in self.nodes:  # a port taken since the last run is replaced; the whole cluster is down
            if not all(port_is_free(port) for port in node.ports):
                node.port, node.controller_port, node.tls_port, node.internal_port = (free_port() for _ in range(4))
        self._write_configs()
        self._format()
        atexit.register(self.stop)
        started = time.monotonic()
        for node in self.nodes:
            self._launch(node)
        try:
            self._wait_ready(self.nodes, started)
        except BaseException:
            self.stop()
            raise
        return self

    def start_node(self, index: int) -> None:
        """Start again one stopped or killed node, on its own data, and wait until the cluster serves it."""
        node = self.nodes[index]
        if node.running:
            raise BrokerStartError(f"le nœud Kafka {node.node_id} tourne déjà")
        started = time.monotonic()
        self._launch(node)
        self._wait_ready([n for n in self.nodes if n.running], started)

    def kill(self, index: int) -> None:
        """``kill -9`` one node, as a crash would: no controlled shutdown, no flush."""
        node = self.nodes[index]
        process, node.process = node.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self._archive_recorded(node, clean=False)

    def stop_node(self, index: int, grace: float = STOP_GRACE_S) -> None:
        """Stop one node cleanly (SIGTERM: controlled shutdown), killing it after ``grace`` seconds."""
        self._terminate([self.nodes[index]], grace)

    def stop(self, grace: float = STOP_GRACE_S) -> None:
        """Stop every node at once, so each one's controlled shutdown still finds a controller majority."""
        self._terminate(self.nodes, grace)
        atexit.unregister(self.stop)

    def close(self) -> None:
        self.stop()
        if self._owns_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def log_tail(self, index: int | None = None, lines: int = 40) -> str:
        """The last lines of one node's log, or of every node's, to print when a test fails."""
        chosen = self.nodes if index is None else [self.nodes[index]]
        return "\n".join(f"--- nœud Kafka {n.node_id} ({n.log_file})\n{n.log_tail(lines)}" for n in chosen)

    def __enter__(self) -> KafkaCluster:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _write_configs(self) -> None:
        settings = broker_settings(len(self.nodes)) | self.overrides
        voters = ",".join(f"{n.node_id}@{LOOPBACK}:{n.controller_port}" for n in self.nodes)
        for node in self.nodes:
            node.home.mkdir(parents=True, exist_ok=True)
            advertised = (
                f"CLIENT://{node.address},CERTS://{LOOPBACK}:{node.tls_port},INTERNAL://{LOOPBACK}:{node.internal_port}"
            )
            _write_properties(
                node.properties,
                settings
                | {
                    "node.id": str(node.node_id),
                    "controller.quorum.voters": voters,
                    "listeners": f"{advertised},CONTROLLER://{LOOPBACK}:{node.controller_port}",
                    "advertised.listeners": advertised,
                    "log.dirs": str(node.data_dir),
                    "ssl.keystore.location": str(self.pki.broker.keystore),
                    "ssl.truststore.location": str(self.pki.ca_cert),
                },
            )

    def _format(self) -> None:
        """Format with one cluster id the folders not formatted yet (all of them, the first time)."""
        pending = [node for node in self.nodes if not node.formatted]
        if not pending:
            return
        cluster_id = self.cluster_id or new_cluster_id()
        self.password_of(ADMIN)  # made once, before the nodes are formatted in parallel with it
        with concurrent.futures.ThreadPoolExecutor(len(pending)) as pool:
            results = list(pool.map(lambda node: self._run_storage_tool(node, cluster_id), pending))
        failed = [(node, output) for node, (code, output) in zip(pending, results, strict=True) if code != 0]
        if failed:
            node, output = failed[0]
            tail = "\n".join(output.splitlines()[-15:])
            raise BrokerStartError(f"le formatage du stockage du nœud Kafka {node.node_id} a échoué :\n{tail}")

    def _run_storage_tool(self, node: KafkaNode, cluster_id: str) -> tuple[int, str]:
        command = [
            *self._java_command("128m", self._class_data_option()),
            STORAGE_TOOL,
            "format",
            "-t",
            cluster_id,
            "-c",
            str(node.properties),
            # The first administrator exists from the start (KIP-900): every other credential is made through it.
            "--add-scram",
            f"SCRAM-SHA-512=[name={ADMIN},password={self.password_of(ADMIN)}]",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=node.home)
        return result.returncode, result.stdout + result.stderr

    def _java_command(self, heap: str, class_data: str) -> list[str]:
        if self._classpath is None:
            self._classpath = kafka_classpath()
        if shutil.which(self.java) is None:
            raise BrokerStartError(
                "java est introuvable : Apache Kafka demande Java 17 ou plus ; lancez « make kafka-jars » "
                "ou installez le paquet openjdk-17-jre-headless"
            )
        return [
            self.java,
            f"-Xmx{heap}",
            *self.jvm_options,
            class_data,
            f"-Dlog4j2.configurationFile={LOG4J2_CONFIGURATION}",
            "-cp",
            str(self._classpath / "*"),
        ]

    @property
    def _class_archive(self) -> Path:
        # An archive only loads in the JVM build that wrote it: one per java binary, so an upgrade records anew.
        java = Path(shutil.which(self.java) or self.java).resolve()
        stat = java.stat()
        build = hashlib.sha256(f"{java}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:12]
        return kafka_classpath().parent / f"kafka-{build}.jsa"

    def _class_data_option(self, node: KafkaNode | None = None) -> str:
        """Load the broker's classes from a class-data archive, which starts a node in about half the time.

        The first node started without one records it when it stops cleanly (``ArchiveClassesAtExit``), into a
        name of its own moved into place after: concurrent runs never read a half-written archive.
        """
        archive = self._class_archive
        if archive.is_file():
            return f"-XX:SharedArchiveFile={archive}"
        if node is None or self._recording is not None:
            return "-Xshare:auto"
        self._recording = (node, archive.with_name(f"{archive.name}.{os.getpid()}-{node.node_id}"))
        return f"-XX:ArchiveClassesAtExit={self._recording[1]}"

    def _archive_recorded(self, node: KafkaNode, clean: bool) -> None:
        """After ``node`` exited: keep the class-data archive it recorded if it stopped cleanly."""
        if self._recording is None or self._recording[0] is not node:
            return
        recorded, self._recording = self._recording[1], None
        if clean and recorded.is_file() and recorded.stat().st_size > 0:
            recorded.replace(self._class_archive)
        recorded.unlink(missing_ok=True)

    def _launch(self, node: KafkaNode) -> None:
        command = [*self._java_command(self.heap, self._class_data_option(node)), MAIN_CLASS, str(node.properties)]
        with node.log_file.open("ab") as log:  # the child keeps its own descriptor; restarts append
            node.process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=node.home,
                start_new_session=True,  # its own process group: a stop reaches everything it started
            )

    def _wait_ready(self, nodes: list[KafkaNode], started: float) -> None:
        """Until every node in ``nodes`` answers a Metadata request listing all of ``nodes`` as live brokers."""
        expected = {node.node_id for node in nodes}
        deadline = started + self.start_timeout
        waiting = list(nodes)
        while waiting:
            node = waiting[0]
            if node.process is None or node.process.poll() is not None:
                code = node.process.returncode if node.process else None
                raise BrokerStartError(
                    f"le nœud Kafka {node.node_id} s'est arrêté au démarrage (code {code}) :\n{node.log_tail()}"
                )
            # Connections queue on the listening socket until the broker processes requests, so one pending
            # request is answered the moment it is ready: the long timeout costs no latency.
            with contextlib.suppress(OSError, struct.error):
                if expected <= metadata_brokers(
                    LOOPBACK, node.internal_port, timeout=min(5.0, self.start_timeout), tls=self._brokers_tls
                ):
                    waiting.pop(0)
                    continue
            if time.monotonic() > deadline:
                raise BrokerStartError(
                    f"Kafka n'est pas prêt après {self.start_timeout:.0f} s (nœud {node.node_id}, "
                    f"{node.address}) :\n{node.log_tail()}"
                )
            time.sleep(0.1)

    @functools.cached_property
    def _brokers_tls(self) -> ssl.SSLContext:
        """What a broker presents on the brokers' listener: its own certificate, trusting the cluster's CA."""
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        context.load_cert_chain(str(self.pki.broker.cert), str(self.pki.broker.key))
        return context

    def _terminate(self, nodes: list[KafkaNode], grace: float) -> None:
        running = [node for node in nodes if node.process is not None]
        for node in running:
            assert node.process is not None
            with contextlib.suppress(ProcessLookupError):
                os.killpg(node.process.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for node in running:
            process, node.process = node.process, None
            assert process is not None
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
                clean = True
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                clean = False
            self._archive_recorded(node, clean)


def main() -> None:
    """``python -m passerelle.broker.apache``: fetch the broker's jars (what ``make kafka-jars`` runs)."""
    try:
        lib = kafka_classpath()
    except BrokerStartError as error:
        print(error, file=sys.stderr)  # noqa: T201 - the make target's only output
        raise SystemExit(1) from None
    print(f"Apache Kafka {kafka_version()} : {len(list(lib.glob('*.jar')))} jars dans {lib}")  # noqa: T201


if __name__ == "__main__":
    main()
