"""Structured logs: JSON in production, console in development, never a personal value.

The redaction processor runs last before rendering, so whatever a caller
binds, personal fields are masked by name and e-mails, phone numbers and
NIRs are masked by shape, wherever they appear in the event.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from types import TracebackType
from typing import Any, TextIO, cast

import structlog

from passerelle.core.privacy import MASK, PERSONAL_KEYS, redact_text


def _redact(value: Any, depth: int = 0) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if depth > 4:
        return MASK
    if isinstance(value, Mapping):
        return {k: MASK if str(k).lower() in PERSONAL_KEYS else _redact(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, depth + 1) for v in value]
    return value


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: mask personal fields by name and personal values by shape."""
    for key in list(event):
        if key.lower() in PERSONAL_KEYS:
            event[key] = MASK
        elif key != "exc_info":
            event[key] = _redact(event[key])
    if isinstance(event.get("exception"), str):
        event["exception"] = redact_text(event["exception"])
    return event


def configure(log_format: str = "console", level: str = "INFO", stream: Any = None) -> None:
    """Set up structlog, and send the standard library's loggers (aiokafka, librdkafka, uvicorn, FastStream) through
    the same processors, so JSON mode writes only JSON lines, tracebacks included, and every line is redacted."""
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)  # French stays readable in a log viewer
        if log_format == "json"
        else structlog.dev.ConsoleRenderer(colors=_colours(stream or sys.stderr))
    )
    stamped: list[Any] = [structlog.processors.add_log_level, structlog.processors.TimeStamper(fmt="iso", utc=True)]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *stamped,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(stream or cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *stamped],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or _CurrentStderr())
    handler.setFormatter(formatter)
    # While the broker is away, aiokafka repeats the same lines hundreds of times a second.
    handler.addFilter(RepeatFilter())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "faststream", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for own in ("uvicorn", "uvicorn.error", "uvicorn.access"):  # uvicorn's handlers would print plain text
        logging.getLogger(own).handlers = []
        logging.getLogger(own).propagate = True
    # Warnings (an unclosed client) and uncaught exceptions, in any thread, are lines like the others.
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread


def _colours(stream: Any) -> bool:
    """Colours for a terminal only, never with NO_COLOR set (no-color.org); FORCE_COLOR asks for them anyway."""
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or bool(getattr(stream, "isatty", lambda: False)())


def _log_uncaught(kind: type[BaseException], value: BaseException, trace: TracebackType | None) -> None:
    structlog.get_logger("passerelle").critical("exception.non_rattrapee", exc_info=(kind, value, trace))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_value is not None and not isinstance(args.exc_value, SystemExit):
        thread = args.thread.name if args.thread else None
        exc_info = (args.exc_type, args.exc_value, args.exc_traceback)
        structlog.get_logger("passerelle").critical("exception.non_rattrapee", fil=thread, exc_info=exc_info)


_DIGITS = re.compile(r"\d+")


class _CurrentStderr:
    """Whatever ``sys.stderr`` is when a line is written, not when logging was configured (test runners swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


class RepeatFilter(logging.Filter):
    """Lets a line through once per window per (logger, message template), then says how often it recurred."""

    def __init__(self, window_s: float = 30.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.window_s = window_s
        self.clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        # Numbers (ports, client ids, milliseconds) vary between repeats of the same complaint.
        key = (record.name, _DIGITS.sub("#", record.getMessage())[:160])
        now = self.clock()
        first, count = self._seen.get(key, (0.0, -1))
        if count >= 0 and now - first < self.window_s:
            self._seen[key] = (first, count + 1)
            return False
        self._seen[key] = (now, 0)
        if count > 0:
            record.msg = f"{record.msg} (répété {count} fois en {self.window_s:.0f} s)"
        if len(self._seen) > 1000:  # bounded: the templates are few, the arguments do not count
            self._seen.clear()
        return True
