"""Hypothesis profiles of the fuzz suite: a short run in the normal suite, a long one with ``make fuzz``.

``HYPOTHESIS_PROFILE=fuzz`` picks the long one. ``FUZZ`` applies it to the fuzz tests only: the other property
tests of the suite keep their own settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_QUIET = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much, HealthCheck.large_base_example]

# A few dozen cases per dialect: the fuzz tests add seconds, not minutes, to the normal suite.
settings.register_profile("fuzz-court", max_examples=50, deadline=None, suppress_health_check=_QUIET)
# The long run: at least 10,000 cases per dialect, no example database so each run explores afresh.
settings.register_profile(
    "fuzz", max_examples=10_000, deadline=None, suppress_health_check=_QUIET, database=None, print_blob=True
)

_CHOSEN = os.environ.get("HYPOTHESIS_PROFILE", "fuzz-court")
FUZZ = settings.get_profile(_CHOSEN if _CHOSEN in ("fuzz", "fuzz-court") else "fuzz-court")
