"""``order-service dlq list | show | replay`` and GET /admin/dead-letters on the real broker,
with the real consumer dead-lettering (and re-dead-lettering) what it cannot store."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import orjson
import pytest
from starlette.testclient import TestClient

from adapters.kafka.client.publisher import KafkaPublisher
from adapters.kafka.dead_letters import format as dlq_format
from adapters.kafka.dead_letters.format import Source
from adapters.kafka.dead_letters.publisher import DeadLetterPublisher
from adapters.kafka.dead_letters.reader import DeadLetterReader
from entrypoints.container import Container, build_container, http_dependencies
from entrypoints.http.app import create_app
from tests.conftest import SAMPLE_ID
from tests.integration.kafka_helpers import end_offsets, publish, read_all, wait_for
from tests.support import KAFKA, service_settings

pytestmark = pytest.mark.integration
CLI = [sys.executable, "-m", "entrypoints.cli"]
TOKEN = "dlq-t0ken"
HOSTILE_ID = "<img src=x onerror=alert(1)>"


@pytest.fixture
def env(clean_database: str, topic: str) -> dict[str, str]:
    return {
        **os.environ,
        "ORDER_SERVICE_DATABASE_URL": clean_database,
        "ORDER_SERVICE_KAFKA_BOOTSTRAP": KAFKA,
        "ORDER_SERVICE_KAFKA_TOPIC": topic,
        "ORDER_SERVICE_KAFKA_DLQ_TOPIC": f"{topic}.dlq",
    }


@pytest.fixture
def service(clean_database: str, topic: str) -> Iterator[tuple[TestClient, Container]]:
    container = build_container(service_settings(clean_database, topic, admin_token=TOKEN))
    with TestClient(create_app(http_dependencies(container, run_consumer=True))) as client:
        yield client, container


def dlq(env: dict[str, str], *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [*CLI, "dlq", *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == code, done.stderr
    return done


def dead_letters(topic: str) -> int:
    return end_offsets(f"{topic}.dlq", partitions=1)[0]


def order_with(sample_bytes: bytes, order_uid: str) -> bytes:
    return orjson.dumps({**orjson.loads(sample_bytes), "order_uid": order_uid})


def test_dead_letters_are_listed_shown_and_replayed_and_fail_again_visibly(
    service: tuple[TestClient, Container], env: dict[str, str], topic: str, sample_bytes: bytes
) -> None:
    client, container = service
    hostile = order_with(sample_bytes, HOSTILE_ID)
    publish(topic, [(b"a", b"{not json"), (b"b", hostile), (SAMPLE_ID.encode(), sample_bytes)])
    wait_for(lambda: dead_letters(topic) == 2, what="two dead letters")

    listed = dlq(env, "list").stdout.splitlines()
    assert listed[0].split()[:2] == ["offset", "dead-lettered"]
    assert len(listed) == 3
    by_reason = {
        ("JSON" if "not JSON" in line else "uid"): int(line.split()[0]) for line in listed[1:]
    }
    assert set(by_reason) == {"JSON", "uid"}
    assert f"{topic}/" in listed[1]
    shown = dlq(env, "show", str(by_reason["uid"])).stdout
    assert "order_uid: Expected `str` matching regex" in shown
    assert f'"order_uid": "{HOSTILE_ID}"' in shown  # the original, pretty-printed JSON

    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = client.get("/admin/dead-letters", headers=auth).json()
    assert [d["offset"] for d in body["dead_letters"]] == [1, 0]
    assert any(HOSTILE_ID in d["reason"] for d in body["dead_letters"])

    replayed = dlq(env, "replay", "--offset", str(by_reason["JSON"])).stdout
    assert f"replayed 1 dead letters to {topic} (offsets {by_reason['JSON']})" in replayed
    wait_for(lambda: dead_letters(topic) == 3, what="the replay dead-lettered again")
    again = dlq(env, "show", "2").stdout
    assert f"replay of      dead letter {by_reason['JSON']} (it failed again)" in again
    assert f"[replay of {by_reason['JSON']}]" in dlq(env, "list", "--limit", "1").stdout
    newest = client.get("/admin/dead-letters?limit=1", headers=auth).json()["dead_letters"]
    assert [(d["offset"], d["replay_of"]) for d in newest] == [(2, by_reason["JSON"])]

    # A valid original (set aside, say, while the store refused it) replays into the store,
    # and replaying it twice stores it once: the second is counted as already stored.
    fine = order_with(sample_bytes, "replayed-order")
    letters = DeadLetterPublisher(container.publisher(), f"{topic}.dlq")
    letters.send([(Source(topic, 0, 99, None, b"replayed-order", fine), "simulated refusal")])
    state = client.app.state.consumer_thread.state  # type: ignore[attr-defined]
    for _ in range(2):
        dlq(env, "replay", "--offset", "3")
    wait_for(lambda: state.already_stored >= 1, what="the second replay handled")
    assert container.repository().get_document("replayed-order") == fine
    assert container.repository().count() == 2
    assert dead_letters(topic) == 4  # neither replay failed


def test_stubs_are_shown_and_never_replayed_and_selections_replay_the_rest(
    env: dict[str, str], topic: str
) -> None:
    publisher = KafkaPublisher(KAFKA)
    letters = DeadLetterPublisher(publisher, f"{topic}.dlq", max_bytes=1000)
    letters.send(
        [
            (Source(topic, 1, 5, None, b"a", b'{"x": 1}', (("trace", b"t1"),)), "invalid a"),
            (Source(topic, 2, 6, None, b"b", b"y" * 5000), "far too large"),
            (Source(topic, 3, 7, None, b"c", b'{"x": 3}'), "invalid c"),
        ]
    )
    publisher.close()

    stub = dlq(env, "show", "1").stdout
    assert "STUB           the original (5,000 bytes) was too large" in stub
    assert "y" * 100 not in stub
    refused = dlq(env, "replay", "--offset", "1", code=1).stderr
    assert "dead letter 1 is a stub: the original (5,000 bytes)" in refused
    assert f"it was {topic}/2@6" in refused
    dlq(env, "replay", "--offset", "0", "--offset", "1", code=1)  # all or nothing
    assert sum(end_offsets(topic).values()) == 0

    dry = dlq(env, "replay", "--all", "--dry-run")
    assert f"would replay 2 dead letters to {topic} (offsets 0, 2)" in dry.stdout
    assert "skipped: dead letter 1 is a stub" in dry.stderr
    assert sum(end_offsets(topic).values()) == 0

    done = dlq(env, "replay", "--since", "1h")
    assert f"replayed 2 dead letters to {topic} (offsets 0, 2)" in done.stdout
    assert "fails again becomes a new dead letter" in done.stdout
    replays = read_all(topic, expected=2)
    got = sorted((m.key(), m.value(), tuple(m.headers())) for m in replays)  # type: ignore[attr-defined]
    assert got == [
        (b"a", b'{"x": 1}', (("trace", b"t1"), (dlq_format.REPLAY_OF, b"0"))),
        (b"c", b'{"x": 3}', ((dlq_format.REPLAY_OF, b"2"),)),
    ]
    assert "replayed 0 dead letters" in dlq(env, "replay", "--since", "2999-01-01T00:00Z").stdout

    missing = dlq(env, "show", "99", code=1).stderr
    assert (
        missing.strip()
        == f"order-service: no dead letter at offset 99: {topic}.dlq holds offsets 0 to 2"
    )
    elsewhere = {**env, "ORDER_SERVICE_KAFKA_DLQ_TOPIC": f"{topic}.nothing"}
    assert dlq(elsewhere, "list").stdout.strip() == f"no dead letters in {topic}.nothing"


def test_the_reader_reads_ranges_and_knows_a_missing_topic(topic: str) -> None:
    publisher = KafkaPublisher(KAFKA)
    DeadLetterPublisher(publisher, f"{topic}.dlq").send(
        [(Source(topic, 0, i, None, None, b"%d" % i), f"r{i}") for i in range(5)]
    )
    publisher.close()
    with DeadLetterReader(KAFKA, f"{topic}.dlq") as reader:
        assert reader.bounds() == (0, 5)
        assert [d.offset for d in reader.read(1, 3)] == [1, 2]
        assert [d.value for d in reader.latest(2)] == [b"3", b"4"]
        assert [d.reason for d in reader.read(3, 100)] == ["r3", "r4"]
        assert reader.at(5) is None
        assert [d.offset for d in reader.since(0)] == [0, 1, 2, 3, 4]
    with DeadLetterReader(KAFKA, f"{topic}.absent") as reader:
        assert reader.bounds() == (0, 0)
        assert reader.latest(10) == []
        assert list(reader.since(0)) == []
