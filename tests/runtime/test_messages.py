"""Derived event ids and CloudEvents times: the fast forms say exactly what the standard library says."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.envelope import format_time
from passerelle.runtime.messages import _IDS, derived_id


@given(st.lists(st.text(), min_size=1, max_size=4))
def test_derived_ids_are_uuid5_of_the_joined_parts(parts: list[str]) -> None:
    assert derived_id(*parts) == str(uuid.uuid5(_IDS, "|".join(parts)))


@given(st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5))])))
def test_times_are_written_in_utc_with_milliseconds(moment: datetime) -> None:
    text = format_time(moment)
    assert text.endswith("Z") and len(text) == len("2026-03-02T08:15:02.113Z")
    assert text == moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    assert datetime.fromisoformat(text.replace("Z", "+00:00")) == moment.replace(
        microsecond=moment.microsecond // 1000 * 1000
    )
