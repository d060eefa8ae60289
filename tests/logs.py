"""Log lines captured in a test, whatever level an earlier test configured."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, MutableMapping
from typing import Any

import structlog


@contextlib.contextmanager
def captured_logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """structlog's ``capture_logs``, at every level: it keeps the configured filtering logger, so after a test that
    set WARNING an ``info`` line would never reach it."""
    with structlog.testing.capture_logs() as logs:
        previous = structlog.get_config()["wrapper_class"]
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.DEBUG))
        try:
            yield logs
        finally:
            structlog.configure(wrapper_class=previous)
