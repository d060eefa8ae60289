"""The ``passerelle`` command tree, walked, and the command run in this process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import typer
from typer import _click
from typer.core import TyperGroup

from passerelle.cli import PROGRAM, app, run
from passerelle.settings import PROJECT_ROOT

EXAMPLES = PROJECT_ROOT / "contracts" / "examples" / "formation.Positionnement"


@dataclass(frozen=True)
class Node:
    path: tuple[str, ...]  # the words after « passerelle »
    command: _click.Command
    context: _click.Context


def walk() -> Iterator[Node]:
    root = typer.main.get_command(app)
    yield from _walk(root, _click.Context(root, info_name=PROGRAM), ())


def _walk(command: _click.Command, context: _click.Context, path: tuple[str, ...]) -> Iterator[Node]:
    yield Node(path, command, context)
    if not isinstance(command, TyperGroup):
        return
    for name in command.list_commands(context):
        sub = command.get_command(context, name)
        assert sub is not None
        yield from _walk(sub, _click.Context(sub, info_name=name, parent=context), (*path, name))


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


def passerelle(capsys: pytest.CaptureFixture[str], *args: str) -> Outcome:
    """``passerelle ARGS`` through the real entry point: its exit code, stdout and stderr."""
    capsys.readouterr()
    code = run(list(args))
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def invalid_example(name: str, folder: Path) -> Path:
    """The instance of ``contracts/examples/formation.Positionnement/invalid/<name>.json``, alone in a file."""
    example = json.loads((EXAMPLES / "invalid" / f"{name}.json").read_text(encoding="utf-8"))
    path = folder / f"{name}.json"
    path.write_text(json.dumps(example["instance"], ensure_ascii=False), encoding="utf-8")
    return path
