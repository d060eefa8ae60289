"""The fuzz suite's Hypothesis profiles are registered here, for ``pytest --hypothesis-profile`` as well."""

from __future__ import annotations

from tests.fuzz import profiles

__all__ = ["profiles"]
