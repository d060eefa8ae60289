"""``python -m bench [--quick] [names...]``: run the benchmarks, print a table, write JSON to bench/results/."""

from __future__ import annotations

import argparse
import importlib
import time

from rich.console import Console
from rich.table import Table

from bench.brokers import KINDS
from bench.harness import Report

SUITES = ("codec", "translation", "one_hop", "lheo", "end_to_end", "fetch_wait", "gateway", "workers")
# The suites that take --broker; fetch_wait measures the embedded broker's polling only.
ON_A_BROKER = ("one_hop", "end_to_end", "workers")
# Left out of a --quick run of everything (asked for by name, it still runs): each starts servers of its own.
NOT_QUICK = ("fetch_wait", "gateway", "workers")


def show(report: Report, console: Console) -> None:
    table = Table(title=report.title)
    for column in ("mesure", "valeur", "unité", "référence", "ratio", "cible", "atteinte"):
        table.add_column(column)
    for f in report.figures:
        table.add_row(
            f.name,
            f"{f.value:,.1f}".replace(",", " "),
            f.unit,
            f.baseline or "",
            f"{f.ratio:.2f}×" if f.ratio is not None else "",
            f.target or "",
            "" if f.met is None else ("oui" if f.met else "[red]non[/red]"),
        )
    console.print(table)
    console.print(f"commande : {report.command}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("suites", nargs="*", metavar="suite", help=f"benchmarks to run: {', '.join(SUITES)} (all)")
    parser.add_argument("--quick", action="store_true", help="small sizes: everything in under two minutes")
    parser.add_argument(
        "--broker",
        choices=KINDS,
        default="tansu",
        help="broker of one_hop, end_to_end and workers: the embedded Tansu, or Apache Kafka (3 nodes, 1 with --quick)",
    )
    parser.add_argument(
        "--transactions",
        action="store_true",
        help="one_hop on Apache Kafka: hops and baseline (c) in transactions, as production runs them",
    )
    args = parser.parse_args()
    unknown = set(args.suites) - set(SUITES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    console = Console(width=150)
    chosen = args.suites or [s for s in SUITES if not (args.quick and s in NOT_QUICK)]
    for name in chosen:
        started = time.perf_counter()
        module = importlib.import_module(f"bench.{name}")
        on_kafka = args.broker == "kafka" and name in ON_A_BROKER
        in_transactions = on_kafka and args.transactions and name == "one_hop"
        if in_transactions:
            report: Report = module.run(quick=args.quick, broker=args.broker, transactions=True)
        elif name in ON_A_BROKER:
            report = module.run(quick=args.quick, broker=args.broker)
        else:
            report = module.run(quick=args.quick)
        slug = name + ("-kafka" if on_kafka else "") + ("-transactions" if in_transactions else "")
        path = report.save(slug + ("-quick" if args.quick else ""))
        show(report, console)
        console.print(f"{name} : {time.perf_counter() - started:.0f} s, résultats dans {path}\n")


if __name__ == "__main__":
    main()
