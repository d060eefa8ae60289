"""The help of every command, in French and through the CLI's own consoles.

Typer writes its help with English headings (« Usage », « Commands », « Show this message and exit. ») and
its own console, which keeps bold and dim under ``NO_COLOR``. Every group and command of ``passerelle`` is
made by ``App`` below, whose classes render the help here instead.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from enum import Enum
from pathlib import PurePath
from typing import Any

import typer
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text
from typer import _click  # typer carries its own click: its classes are the ones commands are made of
from typer.core import TyperCommand, TyperGroup
from typer.models import CommandFunctionType

from passerelle.cli.render import console

HELP_OPTION_HELP = "Afficher cette aide et quitter."
# The completion options typer adds to the root command, with help of its own in English.
COMPLETION_HELP = {
    "install_completion": "Installer l'autocomplétion de « passerelle » dans le shell courant.",
    "show_completion": "Afficher le script d'autocomplétion du shell courant, pour le copier ou l'adapter.",
}
# Typer's names for the value types (« <int> »), as the help shows them.
TYPE_NAMES = {
    "str": "TEXTE",
    "int": "ENTIER",
    "float": "NOMBRE",
    "path": "CHEMIN",
    "Path": "CHEMIN",
    "file": "FICHIER",
    "dir": "DOSSIER",
}
_INDENT = (0, 0, 0, 2)


class FrenchCommand(TyperCommand):
    def get_help_option(self, ctx: _click.Context) -> Any:
        return _in_french(super().get_help_option(ctx))

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        formatter.write(render_help(self, ctx))


class FrenchGroup(TyperGroup):
    def __init__(self, **attrs: Any) -> None:
        super().__init__(**{**attrs, "subcommand_metavar": "COMMANDE [ARGUMENTS]..."})

    def get_params(self, ctx: _click.Context) -> list[_click.Parameter]:
        params = super().get_params(ctx)
        for param in params:  # typer adds the completion options once the group is made
            if param.name in COMPLETION_HELP:
                param.help = COMPLETION_HELP[param.name]  # type: ignore[attr-defined]
        return params

    def get_help_option(self, ctx: _click.Context) -> Any:
        return _in_french(super().get_help_option(ctx))

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        formatter.write(render_help(self, ctx))


class App(typer.Typer):
    """A ``typer.Typer`` whose group and commands write their help in French."""

    def __init__(self, **options: Any) -> None:
        super().__init__(cls=FrenchGroup, **options)

    def command(self, name: str | None = None, **options: Any) -> Callable[[CommandFunctionType], CommandFunctionType]:
        return super().command(name, cls=FrenchCommand, **options)

    def add_typer(self, typer_instance: typer.Typer, **options: Any) -> None:
        """A group made with a plain ``typer.Typer`` gets French help too, its commands with it."""
        for info in typer_instance.registered_commands:
            if info.cls in (None, TyperCommand):  # typer's default, not a class of the command's own
                info.cls = FrenchCommand
        super().add_typer(typer_instance, cls=FrenchGroup, **options)


def _in_french(option: Any) -> Any:
    if option is not None:
        option.help = HELP_OPTION_HELP
    return option


def render_help(command: _click.Command, ctx: _click.Context) -> str:
    """The whole help page, with escape sequences only where the console would write them."""
    out = console()
    with out.capture() as captured:
        out.print(Group(*_sections(command, ctx)))
    return "\n".join(line.rstrip() for line in captured.get().splitlines()) + "\n"  # rich pads to the width


def _sections(command: _click.Command, ctx: _click.Context) -> list[RenderableType]:
    params = [p for p in command.get_params(ctx) if not getattr(p, "hidden", False)]
    arguments = [p for p in params if p.param_type_name == "argument"]
    options = [p for p in params if p.param_type_name == "option"]
    sections: list[RenderableType] = [_usage(command, ctx, arguments, options)]
    for paragraph in _paragraphs(command.help or ""):
        sections += [Text(""), Padding(Text(paragraph), _INDENT, expand=False)]
    if arguments:
        sections += _section("Arguments", [(_argument_name(p), _param_help(p, ctx)) for p in arguments])
    if options:
        sections += _section("Options", [(_option_name(p, ctx), _param_help(p, ctx)) for p in options])
    if isinstance(command, TyperGroup):
        sections += _section("Commandes", _commands(command, ctx))
    return sections


def _usage(
    command: _click.Command, ctx: _click.Context, arguments: list[_click.Parameter], options: list[_click.Parameter]
) -> Text:
    pieces = [ctx.command_path]
    if options:
        pieces.append("[OPTIONS]")
    pieces += [_argument_name(p) if p.required else f"[{_argument_name(p)}]" for p in arguments]
    if isinstance(command, TyperGroup):
        pieces.append(command.subcommand_metavar)
    usage = Text("Utilisation : ", style="bold")
    usage.append(" ".join(pieces))
    return usage


def _paragraphs(text: str) -> list[str]:
    """The docstring's paragraphs, each on one line for the console to wrap at its own width."""
    return [" ".join(p.split()) for p in inspect.cleandoc(text).split("\n\n") if p.strip()]


def _section(title: str, rows: list[tuple[str, str]]) -> list[RenderableType]:
    if not rows:
        return []
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for name, text in rows:
        table.add_row(Text(name), Text(text))
    return [Text(""), Text(f"{title} :", style="bold"), Padding(table, _INDENT, expand=False)]


def _commands(group: TyperGroup, ctx: _click.Context) -> list[tuple[str, str]]:
    rows = []
    for name in group.list_commands(ctx):
        sub = group.get_command(ctx, name)
        if sub is not None and not sub.hidden:
            rows.append((name, _first(sub)))
    return rows


def _first(command: _click.Command) -> str:
    paragraphs = _paragraphs(command.short_help or command.help or "")
    return paragraphs[0] if paragraphs else ""


def _argument_name(param: _click.Parameter) -> str:
    return (param.metavar or param.name or "").upper()


def _option_name(param: _click.Parameter, ctx: _click.Context) -> str:
    names = ", ".join([*param.opts, *param.secondary_opts])
    if getattr(param, "is_flag", False):
        return names
    return f"{names} {_type_name(param, ctx)}".rstrip()


def _type_label(param: _click.Parameter, ctx: _click.Context) -> str:
    """Typer's ``<int>``, ``<list[Path]>`` or ``<A|B>`` without its brackets."""
    shown = getattr(param, "display_type_rich", None)
    label = (shown(ctx=ctx) or "") if callable(shown) else ""
    return str(label).removeprefix("<").removesuffix(">")


def _type_name(param: _click.Parameter, ctx: _click.Context) -> str:
    """``ENTIER`` for ``<int>``, ``CHEMIN…`` for ``<list[Path]>``, ``CHOIX`` for ``<A|B>``."""
    label = _type_label(param, ctx)
    if "|" in label:
        return "CHOIX"
    if label.startswith("list[") and label.endswith("]"):
        inner = label.removeprefix("list[").removesuffix("]")
        return f"{TYPE_NAMES.get(inner, inner)}…"
    return TYPE_NAMES.get(label, label)


def _param_help(param: _click.Parameter, ctx: _click.Context) -> str:
    text = " ".join((getattr(param, "help", None) or "").split())
    label = _type_label(param, ctx)
    if "|" in label:
        text += f" [choix : {', '.join(label.split('|'))}]"
    default = _shown_default(param)
    if default is not None and "défaut" not in text:  # a help that names its default says it better
        text += f" [défaut : {default}]"
    if param.required:
        text += " [obligatoire]"
    return text.strip()


def _shown_default(param: _click.Parameter) -> str | None:
    """Defaults worth reading; a path default would show this machine's folders, a flag's is off."""
    default = param.default
    if default is None or isinstance(default, bool | PurePath) or default in ("", (), []):
        return None
    if isinstance(default, Enum):
        return str(default.value)
    return str(default)
