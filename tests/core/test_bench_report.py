"""docs/performance.md takes its tables from the benchmark results, never from a hand."""

from __future__ import annotations

import json
from pathlib import Path

from bench.harness import Figure, Report
from bench.report import update


def test_figures_are_copied_between_their_markers_and_nothing_else_moves(tmp_path: Path) -> None:
    report = Report("Codec", "python -m bench codec")
    report.add(Figure("AvroCodec.encode", 66_726.2, "records/s", "fastavro", 0.97, "≥ 0.8×", True))
    report.add(Figure("AvroCodec.decode", 50_000.0, "records/s", "fastavro", 0.70, "≥ 0.8×", False))
    data = {"machine": {"cpus": 2, "python": "3.11.7"}, "date": "2026-11-26T22:00:00+00:00", **report.__dict__}
    data["figures"] = [f.__dict__ for f in report.figures]
    (tmp_path / "codec.json").write_text(json.dumps(data), encoding="utf-8")
    doc = (
        "intro\n<!-- figures:codec -->\nold table\n<!-- /figures:codec -->\n"
        "<!-- figures:lheo -->\n<!-- /figures:lheo -->\n"
    )

    updated = update(doc, tmp_path)

    assert updated.startswith("intro\n<!-- figures:codec -->\nRun of 2026-11-26")
    assert "old table" not in updated
    assert "| AvroCodec.encode | 66 726 | records/s | fastavro | 0.97× | ≥ 0.8× | yes |" in updated
    assert "| AvroCodec.decode | 50 000 | records/s | fastavro | 0.7× | ≥ 0.8× | **no** |" in updated
    assert updated.endswith("<!-- figures:lheo -->\n<!-- /figures:lheo -->\n")  # no result: left as it was


def test_a_kafka_node_sample_is_named_by_the_first_kind_of_work_any_frame_shows() -> None:
    from bench.end_to_end import _work_of

    network = ["java.lang.Thread.run", "kafka.network.Processor.run", "kafka.network.Processor.poll"]
    assert _work_of(network) == "réseau (sans TLS)"
    assert _work_of([*network, "sun.security.ssl.SSLEngineImpl.wrap"]) == "TLS"  # TLS inside the network threads
    follower = ["kafka.server.ReplicaFetcherThread.doWork", "kafka.server.AbstractFetcherThread.processFetchRequest"]
    assert _work_of(follower) == "réplication, côté suiveur"
    handler = ["kafka.server.KafkaRequestHandler.run", "kafka.server.KafkaApis.handle"]
    assert _work_of([*handler, "kafka.server.KafkaApis.handleFetchRequest"]).startswith("réponses aux fetch")
    assert _work_of([*handler, "kafka.server.KafkaApis.handleProduceRequest"]) == "écritures (produce)"
    assert _work_of(handler) == "autres requêtes (métadonnées, heartbeats)"
    assert _work_of(["java.util.HashMap.get"]) == "autre"


def test_the_brokers_profile_is_listed_under_its_own_heading(tmp_path: Path) -> None:
    report = Report("De bout en bout", "python -m bench end_to_end --broker kafka")
    report.details["broker_profile"] = {"kafka-1": [["TLS", 40.0], ["réseau (sans TLS)", 20.0]]}
    data = {"machine": {"cpus": 2, "python": "3.11.7"}, "date": "2026-12-07T05:00:00+00:00", **report.__dict__}
    (tmp_path / "end_to_end-kafka.json").write_text(json.dumps(data), encoding="utf-8")

    updated = update("<!-- figures:end_to_end-kafka -->\n<!-- /figures:end_to_end-kafka -->", tmp_path)

    assert "Java Flight Recorder" in updated
    assert "- **kafka-1**: TLS 40 %, réseau (sans TLS) 20 %" in updated
