"""What must hold for every input, however hostile: checked on what the adapter's inbound flow did with it."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from passerelle.core.dialect import InboundContext, Outcome
from passerelle.core.events import Dialect
from passerelle.core.privacy import NirDetected, contains_nir, reject_nir
from services.adapter.dialects import Dialects
from services.milo_adapter import app as milo
from services.region_adapter import app as region
from tests.fuzz.mutations import MARKERS, Case
from tests.translator import Recording, Seen, incoming, service_context


class _Counting:
    """A dialect's parser that counts what it yields, so "at least one outcome" is the dialect's doing and not
    the flow's fallback for a silent dialect."""

    def __init__(self, parse: object) -> None:
        self.parse = parse
        self.count = 0

    def __call__(self, payload: bytes, context: InboundContext, /) -> Iterator[Outcome]:
        for outcome in self.parse(payload, context):  # type: ignore[operator]
            self.count += 1
            yield outcome


def _counted(dialects: Dialects) -> tuple[Dialects, dict[Dialect, _Counting]]:
    counters = {d: _Counting(p) for d, p in dialects.parsers.items()}
    return Dialects(counters, dialects.renderers, dialects.native_paths), counters


class Harness:
    def __init__(self, partner: str) -> None:
        app = milo if partner == "imilo" else region
        dialects, self.counters = _counted(app.DIALECTS)
        self.translator = Recording(service_context(app.SERVICE), dialects)

    def run(self, case: Case, offset: int) -> Seen:
        for counter in self.counters.values():
            counter.count = 0
        seen = self.translator.run(incoming(case.partner, case.payload, offset, headers=case.headers))
        self.yielded = sum(c.count for c in self.counters.values())
        return seen


def check(case: Case, seen: Seen, yielded: int) -> None:
    """The properties of the issue, for one input."""
    describe = f"{case.steps} {case.headers} {case.payload[:300]!r}"
    assert seen.drafts or seen.rejected, f"nothing came out: {describe}"
    dialect_silent = yielded == 0
    flow_refusal = any(
        p.code in ("en_tete", "evenement_non_publie", "type_inconnu", "origine_usurpee")
        for r in seen.rejected
        for p in r.problems
    )
    assert not dialect_silent or flow_refusal, f"the dialect yielded nothing: {describe}"
    for rejected in seen.rejected:
        for problem in rejected.problems:
            assert problem.code and problem.code != "erreur_interne", (problem, describe)
            assert problem.message.strip() and problem.message != problem.code, (problem, describe)
            for text in _texts(problem.path, problem.message, problem.received, problem.expected, rejected.position):
                assert not contains_nir(text), (problem, describe)
                if case.personal:
                    assert not any(marker in text.lower() for marker in MARKERS), (problem, describe)
    for draft in seen.drafts:
        try:
            reject_nir(draft.record)
        except NirDetected as nir:
            raise AssertionError(f"a NIR in a draft at {nir.path}: {describe}") from None


def _texts(*texts: str | None) -> Iterable[str]:
    return (t for t in texts if t)
