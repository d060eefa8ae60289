"""One type for every reason Passerelle refuses something: a contract violation, a rejected row, a routing failure."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a native message (or one row, one session of it) could not be translated.

    ``code`` is stable and machine-readable (used as a metric label, so a
    bounded set); ``message`` is plain French for the sender's integrator;
    ``path`` names the native field; personal values never appear in it.
    """

    code: str
    message: str
    path: str = "$"
    rule: str = ""
    expected: str | None = None
    received: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {
            "code": self.code,
            "chemin": self.path,
            "regle": self.rule,
            "message": self.message,
            "attendu": self.expected,
            "recu": self.received,
        }
