"""A canonical record the router cannot read goes to its DLQ as unreadable, whatever in its bytes is wrong."""

from __future__ import annotations

import copy
import datetime as dt
import io
from pathlib import Path
from typing import Any

import fastavro
import pytest

from passerelle.core.contracts.codec import HEADER
from passerelle.core.envelope import Envelope, event_type
from passerelle.core.headers import ERROR_PREFIX
from passerelle.runtime.audit import write_key_pair
from passerelle.runtime.messages import Incoming
from passerelle.runtime.tally import Tally
from passerelle.settings import Settings
from passerelle.stack.deployables import build_service

SUBJECT = "formation.Positionnement"
RECORD: dict[str, Any] = {
    "idPositionnement": "P-1",
    "jeune": {"pseudonyme": "a" * 64, "sexe": "F"},
    "codeStructure": "37261S00",
    "idSession": "24:1",
    "codeRomeVise": "F1604",
    "datePositionnement": 20_000,
    "dispositif": "CEJ",
    "conseiller": "C",
}


def _days_as_plain_int(schema: Any) -> Any:
    """The schema with its dates as plain ints, to write a day number no calendar holds."""
    if isinstance(schema, dict):
        if schema.get("logicalType") == "date":
            return "int"
        return {k: _days_as_plain_int(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_days_as_plain_int(s) for s in schema]
    return schema


@pytest.mark.parametrize("day", [2**31 - 1, 2_932_897], ids=["beyond C int range", "year 10000"])
def test_a_date_no_calendar_holds_sends_the_record_to_the_dlq_as_unreadable(tmp_path: Path, day: int) -> None:
    keys = write_key_pair(tmp_path)
    settings = Settings(kafka_bootstrap="127.0.0.1:1", pseudonym_secret="test", audit_signing_key_file=keys.signing)
    runtime = build_service("router", settings)
    [hop] = [h for h in runtime.hops if f"canon.{SUBJECT}" in h.spec.inputs]
    version = runtime.ctx.catalogue.latest(SUBJECT)
    body = io.BytesIO()
    record = copy.deepcopy(RECORD) | {"datePositionnement": day}
    fastavro.schemaless_writer(body, fastavro.parse_schema(_days_as_plain_int(version.schema)), record)
    value = HEADER.pack(0, version.schema_id) + body.getvalue()
    envelope = Envelope.new(event_type(SUBJECT), "imilo", time=dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
    raw = tuple(envelope.to_headers())
    message = Incoming(f"canon.{SUBJECT}", 0, 7, b"k", value, {k: v.decode() for k, v in raw}, raw, 0)

    outputs = hop.processor.process(message, Tally())

    [dead] = [o for o in outputs if o.topic.startswith("dlq.")]
    assert not [o for o in outputs if o.topic.startswith("deliver.")]
    assert dead.value == value  # the original, as it came, for replay
    reason = dict(dead.headers)
    assert reason[ERROR_PREFIX + "code"] == b"decodage"
    assert f"décodage impossible ({SUBJECT}, schéma {version.schema_id})" in reason[ERROR_PREFIX + "message"].decode()
