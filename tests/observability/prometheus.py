"""A real Prometheus (Debian's package) with the shipped scrape job and alert rules, scraping every second."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from passerelle.broker.embedded import LOOPBACK, free_port
from passerelle.settings import PROJECT_ROOT

SHIPPED = PROJECT_ROOT / "deploy" / "prometheus"


@contextmanager
def prometheus(targets: Mapping[str, str]) -> Iterator[str]:
    """``targets``: each service's ``host:port``, by the service label the shipped configuration gives it."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus absent : « make test » installe le paquet Debian prometheus"
    port = free_port()
    shipped = yaml.safe_load((SHIPPED / "prometheus.yml").read_text(encoding="utf-8"))
    [job] = shipped["scrape_configs"]
    job["static_configs"] = [{"targets": [target], "labels": {"service": name}} for name, target in targets.items()]
    with tempfile.TemporaryDirectory(prefix="prometheus-") as folder:
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(SHIPPED / rules) for rules in shipped["rule_files"]],
            "scrape_configs": [job],
        }
        path = Path(folder) / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={path}",
                f"--storage.tsdb.path={folder}/data",
                f"--web.listen-address={LOOPBACK}:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            yield f"http://{LOOPBACK}:{port}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


async def query_until(url: str, promql: str, ready: Any, timeout_s: float = 40.0) -> list[dict[str, Any]]:
    """Query the HTTP API until ``ready(result)`` holds; return the last result."""
    result: list[dict[str, Any]] = []
    async with httpx.AsyncClient() as client:
        try:
            async with asyncio.timeout(timeout_s):
                while True:
                    try:
                        response = await client.get(f"{url}/api/v1/query", params={"query": promql})
                        result = response.json()["data"]["result"]
                        if ready(result):
                            return result
                    except (httpx.HTTPError, KeyError, ValueError):
                        pass
                    await asyncio.sleep(0.5)
        except TimeoutError:
            raise AssertionError(f"Prometheus : {promql} → {result}") from None
