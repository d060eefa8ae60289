"""The command configures the process's logging as its entry point should; each test here puts it back after."""

from __future__ import annotations

import logging
import sys
import threading
import warnings
from collections.abc import Iterator

import pytest
import structlog


@pytest.fixture(autouse=True)
def _logging_as_before() -> Iterator[None]:
    # Later tests capture INFO events; the CLI leaves structlog filtering at WARNING.
    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    hooks = sys.excepthook, threading.excepthook, warnings.showwarning
    yield
    structlog.configure(**config)
    root.handlers = handlers
    root.setLevel(level)
    sys.excepthook, threading.excepthook, warnings.showwarning = hooks
