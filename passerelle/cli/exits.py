"""The exit codes of every ``passerelle`` command, and the errors that carry them.

A script tells a negative answer (1) from a wrong command line (2) and from what stopped the command
(65 and above, after BSD's sysexits.h). docs/operator-guide.md, « Exit codes », is the table for people.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from enum import IntEnum
from pathlib import Path
from typing import ClassVar


class ExitCode(IntEnum):
    OK = 0
    FINDING = 1  # the check ran and its answer is no: a contract break, a forged audit record, an invalid message
    USAGE = 2  # the command line itself is wrong (click's own usage errors exit 2 too)
    INVALID_INPUT = 65  # EX_DATAERR: an input the command needs cannot be used as it is
    NOT_FOUND = 66  # EX_NOINPUT: a file, topic, reference, partner or contract named does not exist
    UNREACHABLE = 69  # EX_UNAVAILABLE: the Kafka broker (or the registry) does not answer
    INTERNAL = 70  # EX_SOFTWARE: an unexpected error, a bug; --debug shows the traceback
    CONFIG = 78  # EX_CONFIG: a setting is missing or incomplete
    INTERRUPTED = 130  # Ctrl-C, as a shell reports SIGINT


class CliError(Exception):
    """A refusal the user can act on: one French line on stderr, and its exit code."""

    code: ClassVar[ExitCode] = ExitCode.INTERNAL


class WrongUsage(CliError):
    code = ExitCode.USAGE


class InvalidInput(CliError):
    code = ExitCode.INVALID_INPUT


class NotFound(CliError):
    code = ExitCode.NOT_FOUND


class Unreachable(CliError):
    code = ExitCode.UNREACHABLE


class Misconfigured(CliError):
    code = ExitCode.CONFIG


def existing_file(path: Path) -> Path:
    """``path`` if it is a readable file; typer's own check would answer in English and exit 2."""
    if not path.is_file():
        raise NotFound(f"fichier introuvable : {path}")
    return path


def existing_folder(path: Path) -> Path:
    if not path.is_dir():
        raise NotFound(f"dossier introuvable : {path}")
    return path


# Typer's click words its usage errors in English; the frequent ones, said in French.
_USAGE_MESSAGES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (
        re.compile(r"No such option: (\S+)(?: \(Possible options: (.+)\))?"),
        lambda m: f"option inconnue : {m[1]}" + (f" (options proches : {m[2]})" if m[2] else ""),
    ),
    (re.compile(r"No such command '(.+)'\."), lambda m: f"commande inconnue : {m[1]}"),
    (re.compile(r"Missing command\."), lambda _: "commande manquante"),
    (re.compile(r"Missing option '(.+?)'\..*"), lambda m: f"option obligatoire absente : {m[1]}"),
    (re.compile(r"Missing argument '(.+?)'\..*"), lambda m: f"argument obligatoire absent : {m[1].upper()}"),
    (re.compile(r"Invalid value for '(.+?)': (.*)"), lambda m: f"valeur invalide pour {m[1]} : {m[2]}"),
    (re.compile(r"Option '(.+)' requires an argument\."), lambda m: f"l'option {m[1]} attend une valeur"),
    (re.compile(r"Option '(.+)' does not take a value\."), lambda m: f"l'option {m[1]} ne prend pas de valeur"),
    (re.compile(r"Got unexpected extra argument\(s\) \((.+)\)"), lambda m: f"argument(s) en trop : {m[1]}"),
]


def usage_in_french(message: str) -> str:
    for pattern, french in _USAGE_MESSAGES:
        match = pattern.fullmatch(message.strip())
        if match:
            return french(match)
    return message


def classify(error: BaseException) -> tuple[ExitCode, str]:
    """The exit code and the one-line message of an error that reached the entry point."""
    if isinstance(error, CliError):
        return error.code, str(error)
    if _broker_unreachable(error):
        return ExitCode.UNREACHABLE, f"broker Kafka injoignable : {error}"
    if _registry_unreachable(error):
        return ExitCode.UNREACHABLE, f"registre injoignable : {error}"
    if isinstance(error, _not_found()):
        return ExitCode.NOT_FOUND, str(error)
    if isinstance(error, _invalid_input()):
        return ExitCode.INVALID_INPUT, str(error)
    return ExitCode.INTERNAL, f"{error} (--debug pour la trace complète)"


def _broker_unreachable(error: BaseException) -> bool:
    from aiokafka.errors import KafkaConnectionError
    from confluent_kafka import KafkaError, KafkaException

    if isinstance(error, KafkaConnectionError):
        return True
    # librdkafka (the ACL tools) says « unreachable » through the error code of its exception.
    transport = {KafkaError._TRANSPORT, KafkaError._ALL_BROKERS_DOWN, KafkaError._TIMED_OUT, KafkaError._RESOLVE}
    cause = error.args[0] if isinstance(error, KafkaException) and error.args else None
    return isinstance(cause, KafkaError) and cause.code() in transport


def _registry_unreachable(error: BaseException) -> bool:
    import httpx

    return isinstance(error, httpx.TransportError)


def _not_found() -> tuple[type[BaseException], ...]:
    from passerelle.broker.reader import TopicNotFound
    from passerelle.core.contracts.errors import UnknownSchemaId, UnknownSubject, UnknownVersion

    return TopicNotFound, UnknownSubject, UnknownVersion, UnknownSchemaId, FileNotFoundError


def _invalid_input() -> tuple[type[BaseException], ...]:
    from passerelle.broker.pki import PkiError
    from passerelle.core.audit import AuditKeyError
    from passerelle.core.contracts.errors import ContractError
    from passerelle.core.partners import ProfileError

    return ContractError, ProfileError, AuditKeyError, PkiError
