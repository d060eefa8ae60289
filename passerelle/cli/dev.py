"""``passerelle dev``: the whole Passerelle on this machine (``up``), the certificates of a TLS Kafka (``certs``)."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from passerelle.broker.pki import IssuedCertificate, ensure_dev_pki, summary
from passerelle.cli.context import CliState
from passerelle.cli.exits import WrongUsage
from passerelle.cli.help import App
from passerelle.cli.render import console
from passerelle.logging import configure
from passerelle.stack.local import BrokerKind, Stack, print_addresses
from passerelle.stack.rights import principals as all_principals
from services.console.settings import ConsoleSettings
from services.registry.settings import RegistrySettings

app = App(help="Environnement local : broker embarqué, registre et services.", no_args_is_help=True)


async def run_until_stopped(stack: Stack, out: Console) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stack.start()
    try:
        print_addresses(stack, out)
        out.print("Ctrl-C pour tout arrêter.")
        await stop.wait()
    finally:
        out.print("Arrêt…")
        await stack.stop()


@app.command("up")
def up(
    ctx: typer.Context,
    broker: str = typer.Option(
        "tansu",
        "--broker",
        help="tansu : broker embarqué, en mémoire ; kafka : Apache Kafka, données gardées pour la reprise.",
    ),
    data_dir: Path = typer.Option(
        Path(".passerelle"),
        "--donnees",
        help="Dossier des données d'Apache Kafka et des clés d'audit (--broker kafka) : un nouveau « dev up » reprend.",
    ),
) -> None:
    """Démarre un broker (sauf si PASSERELLE_KAFKA_BOOTSTRAP est défini), le registre, la console et tous les services.

    Affiche l'adresse du broker, l'URL du registre et son identifiant d'écriture (celui de
    PASSERELLE_REGISTRY_OPERATOR_*, sinon un identifiant propre à cette pile), la page de connexion de la console et
    ses comptes (opérateur et lecture, générés pour cette pile ; comptes et OIDC de PASSERELLE_CONSOLE_*), chaque URL
    /metrics ; Ctrl-C arrête tout proprement.
    """
    if broker not in ("tansu", "kafka"):
        raise WrongUsage("--broker attend tansu ou kafka")
    state: CliState = ctx.obj
    configure(state.settings.log_format, "WARNING")
    out = console()
    kind: BrokerKind = "kafka" if broker == "kafka" else "tansu"
    console_settings = ConsoleSettings()
    stack = Stack(
        state.settings,
        broker_kind=kind,
        data_dir=data_dir.resolve() if kind == "kafka" else None,
        registry_operator=RegistrySettings().operator(),  # unset: the stack makes one of its own
        console_operator=console_settings.operator(),  # unset: one generated for this stack
        console_settings=console_settings,
    )
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(run_until_stopped(stack, out))


@app.command("certs")
def certs(
    ctx: typer.Context,
    folder: Path = typer.Option(
        ..., "--dossier", help="Dossier de l'autorité de certification et des certificats (créé en mode 0700)."
    ),
    principals: list[str] | None = typer.Option(
        None,
        "--principal",
        help="Principal à qui délivrer un certificat client, CN=<principal> (répétable) ; par défaut chaque "
        "partenaire des profils, chaque service et l'opérateur (admin).",
    ),
    renew: bool = typer.Option(
        False, "--renouveler", help="Nouvelle autorité et nouveaux certificats pour tous, même encore valables."
    ),
) -> None:
    """Crée l'autorité de certification locale et les certificats TLS d'Apache Kafka : celui des brokers
    (broker.pem : localhost, 127.0.0.1, kafka-1 à kafka-3) et un certificat client par principal (CN = son nom,
    « User:<nom> » pour Kafka). Garde l'autorité et tout certificat encore valable plus de 30 jours ; n'affiche
    jamais de clé."""
    state: CliState = ctx.obj
    wanted = principals if principals else all_principals(state.profiles.ids)
    pki = ensure_dev_pki(folder, wanted, renew=renew)
    table = Table(title=f"Certificats TLS de Kafka dans {escape(str(folder))}")
    for column in ("Fichiers", "Sujet", "Noms (SAN)", "Expire le (UTC)", "État"):
        table.add_column(column)
    ca = summary(pki.ca_cert)
    ca_files = f"{pki.ca_cert.name}\n{pki.ca_key.name} (clé, 0600)"
    table.add_row(ca_files, escape(ca.subject), "—", f"{ca.not_after:%Y-%m-%d}", _state(pki.ca_new))
    for issued in (pki.broker, *pki.clients.values()):
        table.add_row(*_row(issued))
    out = console()
    out.print(table)
    where = escape(str(folder))
    out.print(
        f"Brokers : ssl.keystore.type=PEM, ssl.keystore.location={where}/{pki.broker.keystore.name}, "
        f"ssl.truststore.type=PEM, ssl.truststore.location={where}/{pki.ca_cert.name}, sans ssl.key.password "
        "(clés PKCS#8 non chiffrées)."
    )
    out.print(
        f"Clients : PASSERELLE_KAFKA_CA_FILE={where}/{pki.ca_cert.name}, "
        f"PASSERELLE_KAFKA_CERT_FILE={where}/<principal>.pem, PASSERELLE_KAFKA_KEY_FILE={where}/<principal>-key.pem."
    )


def _row(issued: IssuedCertificate) -> tuple[str, str, str, str, str]:
    info = summary(issued.cert)
    files = f"{issued.cert.name}\n{issued.key.name} (clé, 0600)\n{issued.keystore.name} (clé + chaîne, 0600)"
    names = "\n".join(info.names) or "—"
    return escape(files), escape(info.subject), escape(names), f"{info.not_after:%Y-%m-%d}", _state(issued.new)


def _state(new: bool) -> str:
    return "[green]nouveau[/green]" if new else "gardé"
