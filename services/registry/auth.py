"""Who may change the registry: the operator, by HTTP Basic, as Confluent's clients send ``basic.auth.user.info``."""

from __future__ import annotations

from passerelle.runtime.operator import GENERATED_USER, OperatorCredential, parse_basic

REALM = "passerelle-registry"
# As Confluent's registry words it: its clients read no charset parameter.
CHALLENGE = {"WWW-Authenticate": f'Basic realm="{REALM}"'}

__all__ = ["CHALLENGE", "GENERATED_USER", "REALM", "OperatorCredential", "parse_basic"]
