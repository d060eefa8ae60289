"""Each flow end to end over the embedded broker: native in at one partner, native out at the right one."""

from __future__ import annotations

import uuid

import orjson
import pytest
from aiokafka import AIOKafkaProducer

from passerelle.core.envelope import event_type
from passerelle.simulation import native as simulated
from passerelle.stack.local import Stack
from services.region_adapter.dialects import region_csv
from tests.e2e.traffic import positionnement, pseudonym_of
from tests.flows import caused_by, header, native_headers, send, wait_for

pytestmark = pytest.mark.broker


def _tag() -> str:
    return uuid.uuid4().hex[:10]


async def test_positionnement_reaches_the_funding_region_and_its_status_comes_back(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    n = _tag()
    await send(producer, "in.imilo", positionnement(n, commentaire="très motivée"), native_headers(ce_id=f"pos-{n}"))
    [delivered] = await wait_for(stack.access, "out.region-24", caused_by(f"pos-{n}"))
    body = orjson.loads(delivered.value)
    assert body["evenement"] == "formation.Positionnement"
    assert body["jeune"]["pseudonyme"] == pseudonym_of(n)
    assert body["jeune"]["prenom"] == "Léa"  # region-24 sees identity and contact...
    assert "rqth" not in body["jeune"]  # ...but not sensitive data
    assert "commentaire" not in body  # nor free text
    assert header(delivered, "ce_type") == event_type("formation.Positionnement")

    status = simulated.region_json_message(
        "formation.StatutCandidature",
        {
            "id_positionnement": f"P-{n}",
            "pseudonyme": body["jeune"]["pseudonyme"],
            "id_session": "24:114782",
            "code_structure": "37261S00",
            "statut": "ADMIS",
            "date_statut": "2026-03-12",
        },
    )
    await send(producer, "in.region-24", status, native_headers(ce_id=f"st-{n}"))
    [back] = await wait_for(stack.access, "out.imilo", caused_by(f"st-{n}"))
    answer = orjson.loads(back.value)
    assert answer["typeEvenement"] == "formation.StatutCandidature"
    assert answer["statut"] == "ADMIS" and answer["idPositionnement"] == f"P-{n}"


async def test_free_text_is_delivered_only_where_the_profile_allows_it(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    n = _tag()
    await send(
        producer,
        "in.imilo",
        positionnement(n, session="84:991", commentaire="à rappeler"),
        native_headers(ce_id=f"pos84-{n}"),
    )
    [delivered] = await wait_for(stack.access, "out.region-84", caused_by(f"pos84-{n}"))
    body = orjson.loads(delivered.value)
    assert body["commentaire"] == "à rappeler"
    assert body["jeune"]["prenom"] == "Léa" and "rqth" not in body["jeune"]  # identity yes, sensitive no


async def test_a_mixed_csv_delivers_good_rows_and_rejects_bad_ones_with_their_line(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    n = _tag()
    pseudo = pseudonym_of(n)
    header_line = "id_positionnement;pseudonyme;id_session;code_structure;statut;date_statut\r\n"
    rows = [
        f"P-{n}-1;{pseudo};53:1;35238S00;RECUE;02/03/2026",
        f"P-{n}-2;{pseudo};53:1;35238S00;INVENTE;02/03/2026",  # line 3: unknown status
        f"P-{n}-3;{pseudo};53:1;35238S00;ADMIS;31/02/2026",  # line 4: no such day
        f"P-{n}-4;{pseudo};53:1;35238S00;REFUSE;05/03/2026",
        f"P-{n}-5;{pseudo};53:1;3523;LISTE_ATTENTE;06/03/2026",  # line 6: bad structure code
        f"P-{n}-6;{pseudo};53:1;35238S00;ADMIS;07/03/2026",
    ]
    payload = (header_line + "\r\n".join(rows) + "\r\n").encode("latin-1")
    await send(producer, "in.region-53", payload, native_headers("formation.StatutCandidature", ce_id=f"csv-{n}"))
    delivered = await wait_for(stack.access, "out.imilo", caused_by(f"csv-{n}"), count=3, settle_s=1.0)
    assert sorted(orjson.loads(r.value)["idPositionnement"] for r in delivered) == [f"P-{n}-{i}" for i in (1, 4, 6)]
    # One input, one DLQ record holding the original once and every rejected row.
    [dead] = await wait_for(stack.access, "dlq.region_adapter", caused_by(f"csv-{n}"), settle_s=1.0)
    assert header(dead, "passerelle_error_positions") == "ligne 3, ligne 4, ligne 6"
    assert header(dead, "passerelle_error_items") == "3" and header(dead, "passerelle_error_accepted") == "3"
    assert dead.value == payload
    details = orjson.loads(header(dead, "passerelle_error_details") or "[]")
    assert {d["position"]: d["chemin"] for d in details}["ligne 6"] == "code_structure"
    [feedback] = await wait_for(stack.access, "feedback.region-53", caused_by(f"csv-{n}"), settle_s=1.0)
    body = orjson.loads(feedback.value)
    assert body["statut"] == "partiel" and body["acceptes"] == 3 and body["rejetes"] == 3
    assert {e["position"] for e in body["erreurs"]} == {"ligne 3", "ligne 4", "ligne 6"}


async def test_a_nir_is_rejected_and_never_forwarded(stack: Stack, producer: AIOKafkaProducer) -> None:
    n = _tag()
    nir = "2 84 05 37 261 084 46"  # a well-formed NIR with a valid key
    await send(producer, "in.imilo", positionnement(n, commentaire=f"NIR {nir}"), native_headers(ce_id=f"nir-{n}"))
    [dead] = await wait_for(stack.access, "dlq.milo_adapter", caused_by(f"nir-{n}"))
    assert header(dead, "passerelle_error_code") == "nir"
    assert header(dead, "passerelle_error_path") == "commentaire"
    # Not copied to the DLQ either: no NIR on the bus, the dead letter keeps the error, not the message.
    assert not dead.value and header(dead, "passerelle_error_value_withheld") == "nir"
    [feedback] = await wait_for(stack.access, "feedback.imilo", caused_by(f"nir-{n}"))
    assert nir.replace(" ", "") not in feedback.value.decode().replace(" ", "")
    canon = await wait_for(stack.access, "canon.formation.Positionnement", caused_by(f"nir-{n}"), count=0)
    assert canon == []


async def test_duplicates_deliver_once(stack: Stack, producer: AIOKafkaProducer) -> None:
    n = _tag()
    for _ in range(3):
        await send(producer, "in.imilo", positionnement(n), native_headers(ce_id=f"dup-{n}"))
    delivered = await wait_for(stack.access, "out.region-24", caused_by(f"dup-{n}"), settle_s=2.0)
    assert len(delivered) == 1


async def test_events_of_one_young_person_stay_in_order(stack: Stack, producer: AIOKafkaProducer) -> None:
    n = _tag()
    pseudo = pseudonym_of(n)
    statuses = ["RECUE", "INFORMATION_COLLECTIVE", "LISTE_ATTENTE", "ADMIS", "ANNULEE"] * 4
    for i, statut in enumerate(statuses):
        status = simulated.region_json_message(
            "formation.StatutCandidature",
            {
                "id_positionnement": f"P-{n}",
                "pseudonyme": pseudo,
                "id_session": "24:1",
                "code_structure": "37261S00",
                "statut": statut,
                "date_statut": f"2026-03-{i + 1:02d}",
            },
        )
        # Partners key their messages by the young person: that is what keeps one person's events in order.
        headers = native_headers(ce_id=f"ord-{n}-{i}", correlation_id=f"ord-{n}")
        await send(producer, "in.region-24", status, headers, key=pseudo.encode())
    delivered = await wait_for(stack.access, "out.imilo", caused_by(f"ord-{n}"), count=len(statuses))
    delivered.sort(key=lambda r: (r.partition, r.offset))
    assert len({r.partition for r in delivered}) == 1
    assert [orjson.loads(r.value)["dateStatut"][-2:] for r in delivered] == [f"{i + 1:02d}" for i in range(20)]


async def test_real_lheo_feeds_become_one_offer_per_session(
    stack: Stack, producer: AIOKafkaProducer, lheo_fixtures: list, catalogue: object
) -> None:
    from lxml import etree

    n = _tag()
    expected = 0
    for i, path in enumerate(lheo_fixtures):
        expected += sum(1 for el in etree.parse(str(path)).iter() if etree.QName(el).localname == "session")
        await send(
            producer,
            "in.region-24",
            path.read_bytes(),
            native_headers("formation.OffreSession", ce_id=f"lheo-{n}-{i}", correlation_id=f"lheo-{n}"),
        )
    offers = await wait_for(stack.access, "out.imilo", caused_by(f"lheo-{n}"), count=expected, settle_s=1.0)
    bodies = [orjson.loads(r.value) for r in offers]
    assert len(bodies) == expected
    assert all(b["typeEvenement"] == "formation.OffreSession" and b["idSession"].startswith("24:") for b in bodies)


async def test_csv_flows_out_to_a_csv_region(stack: Stack, producer: AIOKafkaProducer) -> None:
    n = _tag()
    await send(producer, "in.imilo", positionnement(n, session="53:77"), native_headers(ce_id=f"pos53-{n}"))
    [delivered] = await wait_for(stack.access, "out.region-53", caused_by(f"pos53-{n}"))
    text = delivered.value.decode("latin-1")
    head, row = text.strip().split("\r\n")
    cells = dict(zip(head.split(";"), row.split(";"), strict=True))
    assert cells["evenement"] == "formation.Positionnement"
    assert cells["id_positionnement"] == f"P-{n}" and cells["jeune_prenom"] == "Léa"
    assert cells["date_positionnement"] == "01/03/2026" and cells["jeune_rqth"] == ""
    assert region_csv.CONTENT_TYPE in (header(delivered, "content-type") or "")


async def test_two_changes_for_one_positionnement_in_one_message_are_two_events(
    stack: Stack, producer: AIOKafkaProducer
) -> None:
    n = _tag()
    base = {
        "id_positionnement": f"P-{n}",
        "pseudonyme": pseudonym_of(n),
        "id_session": "84:991",
        "code_structure": "37261S00",
    }
    changes = [
        {**base, "statut": "RECUE", "date_statut": "2026-03-02"},
        {**base, "statut": "ADMIS", "date_statut": "2026-03-09"},
    ]
    status = simulated.region_json_message("formation.StatutCandidature", changes)
    await send(producer, "in.region-84", status, native_headers(ce_id=f"two-{n}"))
    delivered = await wait_for(stack.access, "out.imilo", caused_by(f"two-{n}"), count=2, settle_s=1.0)
    assert [orjson.loads(r.value)["statut"] for r in delivered] == ["RECUE", "ADMIS"]  # both, in order
