"""``python -m passerelle.cli``: the same as the ``passerelle`` command."""

from passerelle.cli import main

main()
