"""Every help text of ``passerelle`` is in French, the framework's headings and built-in options included."""

from __future__ import annotations

import re

import pytest

from tests.cli.commands import Node, passerelle, walk

# Common English words that are not French words too (« on », « or », « an », « file », « usage » are).
ENGLISH = frozenset(
    {
        *("the", "and", "of", "with", "only", "when", "this", "that", "to", "for", "from", "is", "are", "be", "by"),
        *("its", "into", "without", "instead", "every", "each", "which", "will", "must", "should", "write", "read"),
        *("print", "exit", "error", "missing", "invalid", "value", "default", "required", "install", "current"),
        *("completion", "commands", "folder", "key", "found", "show", "help"),
    }
)
# What typer and click write in their own help, whatever the command's texts say.
FRAMEWORK = ("Usage:", "Show this message", "Commands", "[default:", "[required]", "<str>", "<int>", "<bool>")
OPTION = re.compile(r"(?<![\w-])--?[\w-]+")
# Names, not prose: settings (PASSERELLE_KAFKA_BOOTSTRAP), topics and files (audit.deliveries, schemas/avro).
CODE = re.compile(r"\S*(?:[/_]|\.\w)\S*")
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*")

NODES = list(walk())


def english_words(text: str, *, also_allowed: frozenset[str] = frozenset()) -> set[str]:
    words = {w.lower() for w in WORD.findall(CODE.sub(" ", OPTION.sub(" ", text)))}
    return (words & ENGLISH) - also_allowed


def test_the_word_list_does_not_take_french_for_english() -> None:
    french = "Affiche l'aide ; on publie en fichier, ou par file d'attente, un an d'usage des options du shell."
    assert english_words(french) == set()
    assert english_words("Show this message and exit.") == {"show", "this", "and", "exit"}
    assert english_words("Relit audit.deliveries ; PASSERELLE_AUDIT_PUBLIC_KEY_FILE ; --from-beginning.") == set()


def test_the_whole_command_tree_is_walked() -> None:
    paths = {" ".join(node.path) for node in NODES}
    assert {"", "dlq list", "contracts validate", "audit verify", "topics create", "registry serve", "tail"} <= paths
    assert len(paths) > 30


@pytest.mark.parametrize("node", NODES, ids=lambda node: " ".join(node.path) or "passerelle")
def test_every_help_text_is_french(node: Node) -> None:
    names = frozenset(node.path)  # a command's own name (« show ») is not English prose
    texts = {"description": node.command.help or "", "short": node.command.short_help or ""}
    for param in node.command.get_params(node.context):
        texts[param.name or "?"] = getattr(param, "help", None) or ""
    for where, text in texts.items():
        assert not english_words(text, also_allowed=names), f"{where} : {text!r}"
    shown = node.command.get_help(node.context)
    flat = " ".join(shown.split())  # as wrapped at whatever width the terminal has
    assert shown.startswith("Utilisation : passerelle")
    assert "Afficher cette aide et quitter." in flat
    assert not [phrase for phrase in FRAMEWORK if phrase in flat], shown
    assert not english_words(shown, also_allowed=names | _subcommands(node)), shown


def _subcommands(node: Node) -> frozenset[str]:
    return frozenset(n.path[-1] for n in NODES if n.path[:-1] == node.path and n.path)


def test_help_is_written_on_stdout_with_exit_code_0_for_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    for node in NODES:
        shown = passerelle(capsys, *node.path, "--help")
        assert shown.code == 0, (node.path, shown.err)
        assert shown.out.startswith(f"Utilisation : {' '.join(('passerelle', *node.path))}"), shown.out
        assert shown.err == ""


def test_a_group_typed_alone_prints_its_help_on_stderr_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    shown = passerelle(capsys, "dlq")
    assert shown.code == 2 and shown.out == ""
    assert shown.err.startswith("Utilisation : passerelle dlq") and "replay" in shown.err
