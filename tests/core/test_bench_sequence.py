"""``bench.sequence``: its steps are the hop's own on real messages, and it reads cachegrind's totals."""

from __future__ import annotations

import pytest

from bench.cachegrind import totals
from bench.sequence import timed

CACHEGRIND = """\
==31159== I   refs:      127,585
==31159== I1  misses:      1,073
==31159== LLi misses:      1,072
==31159== I1  miss rate:    0.84%
==31159== D   refs:       39,641  (29,377 rd   + 10,264 wr)
==31159== D1  misses:      1,484  ( 1,148 rd   +    336 wr)
==31159== LL misses:       2,394  ( 2,083 rd   +    311 wr)
==31159== Branches:       25,576  (25,297 cond +    279 ind)
==31159== Mispredicts:     3,310  ( 3,160 cond +    150 ind)
==31159== Mispred rate:     12.9% (  12.5%     +   53.8%   )
"""


def test_cachegrinds_totals_are_read_by_name() -> None:
    assert totals(CACHEGRIND.splitlines()) == {
        "I refs": 127_585,
        "I1 misses": 1_073,
        "D refs": 39_641,
        "D1 misses": 1_484,
        "LL misses": 2_394,
        "Branches": 25_576,
        "Mispredicts": 3_310,
    }


def test_the_steps_and_the_whole_translation_are_timed_on_real_messages(capsys: pytest.CaptureFixture[str]) -> None:
    timed(30)
    printed = capsys.readouterr().out
    assert "30 messages I-MILO distincts" in printed
    for line in ("validation du contrat", "Avro", "additionnées", "traduction complète (process)"):
        assert line in printed
