"""A native date is read as the ISO text of a real day, or refused with the format expected."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.shapes import Reading, read_date


@given(st.dates())
def test_every_real_day_is_read_as_its_iso_text(day: dt.date) -> None:
    reading = Reading()
    assert read_date(f" {day.isoformat()} ", reading, "d") == day.isoformat()
    assert read_date(f"{day.day:02d}/{day.month:02d}/{day.year:04d}", reading, "d", french=True) == day.isoformat()
    assert not reading.problems


@pytest.mark.parametrize(
    "text", ["2026-02-30", "2026-2-03", "20260302", "2026-W10-1", "\uff12026-03-02", "0000-01-01", "2026-03-02T10"]
)
def test_what_is_not_a_day_written_aaaa_mm_jj_is_refused(text: str) -> None:
    reading = Reading()
    assert read_date(text, reading, "d") is None
    assert [(p.path, p.code) for p in reading.problems] == [("d", "date")]
