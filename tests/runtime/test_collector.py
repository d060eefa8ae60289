"""``tune_collector``: the youngest generation's threshold set, the older ones and the collector itself kept."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from passerelle.runtime.collector import tune_collector
from passerelle.settings import Settings


@pytest.fixture(autouse=True)
def restored() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.set_threshold(*before)


def test_the_young_generation_is_collected_less_often_and_the_others_as_before() -> None:
    gc.set_threshold(700, 10, 10)
    tune_collector(Settings(pseudonym_secret="x").gc_young_threshold)
    assert gc.get_threshold() == (20_000, 10, 10) and gc.isenabled()


def test_zero_keeps_pythons_default() -> None:
    gc.set_threshold(700, 10, 10)
    tune_collector(0)
    assert gc.get_threshold() == (700, 10, 10)
