"""``MillisecondClock``: the time as ``format_time`` writes it, formatted again only when the millisecond changes."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from passerelle.core.envelope import MillisecondClock, format_time

# From 1970 to the year 9999, as milliseconds since the epoch.
_MILLISECONDS = st.integers(min_value=0, max_value=253_402_300_799_999)


@given(_MILLISECONDS, st.integers(min_value=0, max_value=999))
def test_the_text_is_the_time_of_its_millisecond(millisecond: int, microseconds: int) -> None:
    moment = datetime.fromtimestamp(millisecond // 1000, UTC).replace(microsecond=millisecond % 1000 * 1000)
    clock = MillisecondClock(lambda: (millisecond * 1000 + microseconds) / 1_000_000)
    expected = format_time(moment)
    # A float of seconds may land a hair below its millisecond: then the previous one is written, never a later.
    assert clock.text() in (expected, format_time(datetime.fromtimestamp((millisecond - 1) / 1000, UTC)))


def test_the_text_changes_with_the_millisecond_and_only_then() -> None:
    readings = iter([1_765_000_000.1234, 1_765_000_000.1236, 1_765_000_000.1241])
    clock = MillisecondClock(lambda: next(readings))
    first, same, later = clock.text(), clock.text(), clock.text()
    assert first == "2025-12-06T05:46:40.123Z"
    assert same is first  # not formatted again within the same millisecond
    assert later == "2025-12-06T05:46:40.124Z"
