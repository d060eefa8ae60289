"""The ``passerelle`` command: one entry point for integrators and operators.

Every error is one French line on stderr and a documented exit code (``passerelle.cli.exits``);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence

import structlog
import typer
from pydantic import ValidationError
from rich.text import Text

from passerelle.cli import acl as acl_cli
from passerelle.cli import audit as audit_cli
from passerelle.cli import contracts as contracts_cli
from passerelle.cli import dev as dev_cli
from passerelle.cli import dlq as dlq_cli
from passerelle.cli import indicateurs as indicateurs_cli
from passerelle.cli import ingest as ingest_cli
from passerelle.cli import partners as partners_cli
from passerelle.cli import registry as registry_cli
from passerelle.cli import service as service_cli
from passerelle.cli import topics as topics_cli
from passerelle.cli.context import CliState
from passerelle.cli.demo import demo
from passerelle.cli.exits import ExitCode, Misconfigured, classify, usage_in_french
from passerelle.cli.help import App
from passerelle.cli.render import console
from passerelle.cli.tail import tail
from passerelle.settings import Settings

PROGRAM = "passerelle"

app = App(
    name=PROGRAM,
    help="Passerelle : l'interconnexion des systèmes d'information des Missions Locales et des Régions.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(contracts_cli.app, name="contracts")
app.add_typer(service_cli.app, name="service")
app.add_typer(topics_cli.app, name="topics")
app.add_typer(partners_cli.app, name="partners")
app.add_typer(dlq_cli.app, name="dlq")
app.add_typer(dev_cli.app, name="dev")
app.add_typer(audit_cli.app, name="audit")
app.add_typer(acl_cli.app, name="acl")
app.add_typer(registry_cli.app, name="registry")
app.add_typer(ingest_cli.app, name="ingest")
app.add_typer(indicateurs_cli.app, name="indicateurs")
app.command("tail")(tail)
app.command("demo")(demo)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Afficher la trace complète d'une erreur."),
) -> None:
    ctx.obj = CliState(debug=debug, settings=_settings())


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        wrong = ", ".join(f"PASSERELLE_{'_'.join(map(str, e['loc'])).upper()}" for e in error.errors())
        raise Misconfigured(f"réglage invalide : {wrong} (voir docs/configuration.md)") from None


def run(args: Sequence[str] | None = None) -> int:
    """Run ``passerelle ARGS`` (default: the process's arguments) and return its exit code."""
    arguments = list(sys.argv[1:] if args is None else args)
    _logs_to_stderr()
    try:
        # Without standalone mode typer returns the code of ``typer.Exit`` and lets every error reach us.
        code = app(args=arguments, prog_name=PROGRAM, standalone_mode=False)
    except typer.Exit as done:  # an ``Exit`` is an ``Abort`` to typer: told apart first
        return done.exit_code
    except typer.Abort:
        _say("Interrompu.")
        return ExitCode.INTERRUPTED
    except typer.TyperException as error:  # typer's own click: a wrong command line
        return _usage_error(error)
    except Exception as error:  # the single place where any error becomes one line
        if "--debug" in arguments:
            raise
        exit_code, message = classify(error)
        _say(message)
        return exit_code
    return code if isinstance(code, int) else ExitCode.OK


def main() -> None:
    sys.exit(run())


def _logs_to_stderr() -> None:
    """Logs on stderr, so stdout holds only the result (a table, JSON); a service configures its own level.

    Done here, for the process, rather than in a callback that a test's in-process runner would run too.
    """
    from passerelle.logging import configure

    with contextlib.suppress(ValidationError):  # the command says which setting is wrong, once
        configure(Settings().log_format, "WARNING")


def _json_logs() -> bool:
    try:
        return Settings().log_format == "json"
    except ValidationError:
        return False


def _usage_error(error: typer.TyperException) -> int:
    if type(error).__name__ == "NoArgsIsHelpError":  # a group typed alone: its help on stderr, as click does
        typer.echo(error.format_message(), err=True)
        return ExitCode.USAGE
    context = getattr(error, "ctx", None)
    hint = f" (aide : « {context.command_path} --help »)" if context is not None else ""
    _say(f"{usage_in_french(error.format_message())}{hint}", prefix="Erreur d'utilisation : ")
    # Every error of typer's own click is about the command line, but a file it could not open.
    return ExitCode.USAGE if error.exit_code == ExitCode.USAGE else ExitCode.INVALID_INPUT


def _say(message: str, prefix: str = "Erreur : ") -> None:
    """One line on stderr, however long: a script reads it whole, a terminal wraps it. With JSON logs (a container)
    it is a JSON log line like the others, so a log pipeline never meets plain text."""
    if _json_logs():
        structlog.get_logger("passerelle.cli").error("commande.erreur", message=f"{prefix}{' '.join(message.split())}")
        return
    line = Text(prefix, style="red")
    line.append(" ".join(message.split()))
    console(stderr=True).print(line, soft_wrap=True)
