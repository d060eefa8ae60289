"""Every service as its own ``passerelle service run`` process, as deployed: for benchmarks and fault tests.

Unlike ``Stack`` (every service in one process, for the demo and most tests), a service here can be
killed with SIGKILL and started again on the same port, and its CPU and memory are its own.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from passerelle.broker.access import KafkaAccess
from passerelle.broker.embedded import LOOPBACK, free_port
from passerelle.settings import PROJECT_ROOT
from passerelle.stack.deployables import SERVICES

_STOP_WAIT_S = 20.0


@dataclass
class ServiceProcess:
    name: str
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def health_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/health"

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class ProcessStack:
    """The services of ``names``, each in its own process on a port of its own kept across restarts.

    ``env`` holds the ``PASSERELLE_*`` settings every service gets (broker, secrets, keys); each service's
    output goes to ``<folder>/<service>.log``.
    """

    def __init__(
        self,
        env: Mapping[str, str],
        folder: Path,
        names: Iterable[str] = tuple(SERVICES),
        identities: Mapping[str, KafkaAccess] | None = None,
    ) -> None:  # fmt: skip
        self.env = dict(env)
        # Each service's own Kafka principal, when the cluster has one for it (``PASSERELLE_KAFKA_*``).
        self.identities = dict(identities or {})
        self.folder = folder
        self.services = {name: ServiceProcess(name, free_port(), folder / f"{name}.log") for name in names}

    def start(self) -> None:
        for name in self.services:
            self.start_service(name)

    def start_service(self, name: str) -> None:
        service = self.services[name]
        if service.running():
            raise RuntimeError(f"{name} tourne déjà")
        own = self.identities[name].environment() if name in self.identities else {}
        env = {**os.environ, **self.env, **own, "PASSERELLE_METRICS_PORT": str(service.port)}
        command = [sys.executable, "-m", "passerelle.cli", "service", "run", name, "--host", LOOPBACK]
        with service.log.open("ab") as log:  # the child keeps its own copy of the descriptor
            service.process = subprocess.Popen(command, env=env, cwd=PROJECT_ROOT, stdout=log, stderr=log)

    def kill(self, name: str) -> None:
        """SIGKILL: no chance to commit, flush or leave the group, as when a machine dies."""
        process = self.services[name].process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGKILL)
            process.wait()

    def terminate(self, name: str) -> int | None:
        """SIGTERM, then SIGKILL if the service has not ended in time; its exit code."""
        process = self.services[name].process
        if process is None:
            return None
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=_STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def stop(self) -> None:
        for service in self.services.values():
            if service.running() and service.process is not None:
                service.process.terminate()
        for name in self.services:
            self.terminate(name)

    def pids(self) -> dict[str, int]:
        return {name: s.pid for name, s in self.services.items() if s.pid is not None and s.running()}

    async def health(self, client: httpx.AsyncClient, name: str) -> tuple[int, str]:
        """``/health``'s status and reason; 0 when the service does not answer (not started, killed)."""
        try:
            response = await client.get(self.services[name].health_url, timeout=2.0)
        except httpx.HTTPError:
            return 0, "ne répond pas"
        return response.status_code, response.text

    async def wait_ready(self, names: Iterable[str] | None = None, limit_s: float = 120.0) -> None:
        wanted = list(names if names is not None else self.services)
        deadline = time.monotonic() + limit_s
        async with httpx.AsyncClient() as client:
            for name in wanted:
                service = self.services[name]
                while True:
                    if not service.running():
                        raise RuntimeError(f"{name} s'est arrêté : {self.log_tail(name)}")
                    code, body = await self.health(client, name)
                    if code == 200:
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"{name} pas prêt en {limit_s:.0f} s ({code} {body})")
                    await asyncio.sleep(0.2)

    def stacks(self, name: str) -> str:
        """What the service's threads are doing now (py-spy dump, when installed): for a test that finds it stuck."""
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        pid = self.services[name].pid
        if pid is None or not Path(spy).exists():
            return ""
        done = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True, timeout=30, check=False)
        return done.stdout + done.stderr

    def log_tail(self, name: str, chars: int = 3000) -> str:
        log = self.services[name].log
        return log.read_bytes()[-chars:].decode(errors="replace") if log.exists() else ""
