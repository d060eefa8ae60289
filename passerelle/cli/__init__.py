"""The ``passerelle`` command: one entry point for integrators and operators.

Errors are one clear line; ``--debug`` shows the traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from passerelle.cli import acl as acl_cli
from passerelle.cli import audit as audit_cli
from passerelle.cli import contracts as contracts_cli
from passerelle.cli import dev as dev_cli
from passerelle.cli import dlq as dlq_cli
from passerelle.cli import ingest as ingest_cli
from passerelle.cli import partners as partners_cli
from passerelle.cli import registry as registry_cli
from passerelle.cli import service as service_cli
from passerelle.cli import topics as topics_cli
from passerelle.cli.context import CliState
from passerelle.cli.demo import demo
from passerelle.cli.tail import tail

app = typer.Typer(
    name="passerelle",
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
app.command("tail")(tail)
app.command("demo")(demo)


@app.callback()
def _root(
    ctx: typer.Context,
    debug: bool = typer.Option(False, "--debug", help="Show the full traceback on error."),
) -> None:
    ctx.obj = CliState(debug=debug)


def main() -> None:
    debug = "--debug" in sys.argv
    try:
        # Without standalone mode click returns the exit code of ``typer.Exit`` instead of exiting.
        code = app(standalone_mode=False)
        sys.exit(code if isinstance(code, int) else 0)
    except SystemExit as exc:
        raise exc
    except typer.Abort:
        Console(stderr=True).print("[red]Interrompu.[/red]")
        sys.exit(130)
    except Exception as exc:  # the single place where any error becomes one line
        if debug:
            raise
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(exc.exit_code)
        Console(stderr=True).print(f"[red]Erreur :[/red] {exc}")
        sys.exit(1)
