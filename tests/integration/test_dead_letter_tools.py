"""``order-service dlq list | show | replay`` and GET /admin/dead-letters on the real broker,
with the real consumer dead-lettering (and re-dead-lettering) what it cannot store."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import orjson
import pytest
from confluent_kafka import KafkaError, Message, Producer
from starlette.testclient import TestClient

from adapters.kafka.client.publisher import KafkaPublisher
from adapters.kafka.client.topics import ensure_topics
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
    assert listed[0].split()[:2] == ["partition:offset", "dead-lettered"]
    assert len(listed) == 3
    by_reason = {
        ("JSON" if "not JSON" in line else "uid"): int(line.split()[0].removeprefix("0:"))
        for line in listed[1:]
    }
    assert set(by_reason) == {"JSON", "uid"}
    assert f"{topic}/" in listed[1]
    # One partition: an offset alone names its dead letter, as it always did.
    shown = dlq(env, "show", str(by_reason["uid"])).stdout
    assert shown == dlq(env, "show", f"0:{by_reason['uid']}").stdout
    assert "order_uid: Expected `str` matching regex" in shown
    assert f'"order_uid": "{HOSTILE_ID}"' in shown  # the original, pretty-printed JSON

    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = client.get("/admin/dead-letters", headers=auth).json()
    assert [(d["partition"], d["offset"]) for d in body["dead_letters"]] == [(0, 1), (0, 0)]
    assert body["partitions"] == [{"partition": 0, "first_offset": 0, "next_offset": 2}]
    assert any(HOSTILE_ID in d["reason"] for d in body["dead_letters"])

    replayed = dlq(env, "replay", "--offset", str(by_reason["JSON"])).stdout
    assert f"replayed 1 dead letters to {topic} (0:{by_reason['JSON']})" in replayed
    wait_for(lambda: dead_letters(topic) == 3, what="the replay dead-lettered again")
    again = dlq(env, "show", "2").stdout
    assert f"replay of      dead letter 0:{by_reason['JSON']} (it failed again)" in again
    assert f"[replay of 0:{by_reason['JSON']}]" in dlq(env, "list", "--limit", "1").stdout
    newest = client.get("/admin/dead-letters?limit=1", headers=auth).json()["dead_letters"]
    assert [(d["offset"], d["replay_of_partition"], d["replay_of"]) for d in newest] == [
        (2, 0, by_reason["JSON"])
    ]

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
    assert "dead letter 0:1 is a stub: the original (5,000 bytes)" in refused
    assert f"it was {topic}/2@6" in refused
    dlq(env, "replay", "--offset", "0", "--offset", "1", code=1)  # all or nothing
    assert sum(end_offsets(topic).values()) == 0

    dry = dlq(env, "replay", "--all", "--dry-run")
    assert f"would replay 2 dead letters to {topic} (0:0, 0:2)" in dry.stdout
    assert "skipped: dead letter 0:1 is a stub" in dry.stderr
    assert sum(end_offsets(topic).values()) == 0

    done = dlq(env, "replay", "--since", "1h")
    assert f"replayed 2 dead letters to {topic} (0:0, 0:2)" in done.stdout
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
        == f"order-service: no dead letter at 0:99: {topic}.dlq holds offsets 0 to 2"
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
        assert reader.partitions() == (0,)
        assert reader.bounds(0) == (0, 5)
        assert reader.bounds(1) == (0, 0)  # no such partition
        assert [d.offset for d in reader.read(0, 1, 3)] == [1, 2]
        assert [d.value for d in reader.latest(2)] == [b"3", b"4"]
        assert [d.reason for d in reader.read(0, 3, 100)] == ["r3", "r4"]
        assert reader.at(0, 5) is None
        assert reader.at(1, 0) is None
        assert [d.offset for d in reader.since(0)] == [0, 1, 2, 3, 4]
        assert [d.offset for d in reader.read_merged({0: (2, 4)})] == [2, 3]
    with DeadLetterReader(KAFKA, f"{topic}.absent") as reader:
        assert reader.partitions() == ()
        assert reader.bounds(0) == (0, 0)
        assert reader.at(0, 0) is None
        assert reader.latest(10) == []
        assert list(reader.since(0)) == []


# The dead letters of a three-partition topic: (partition, milliseconds after BASE), each
# partition in offset order. By time: 0:0 1:0 2:0 2:1 0:1 1:1 2:2 (0:1 and 1:1 tie at 40:
# partition 0 first).
SPREAD = [(0, 0), (1, 10), (2, 20), (2, 30), (0, 40), (1, 40), (2, 50)]
BY_TIME = ["0:0", "1:0", "2:0", "2:1", "0:1", "1:1", "2:2"]


@pytest.fixture
def three_partitions(clean_database: str) -> Iterator[tuple[str, TestClient, dict[str, str]]]:
    """A new orders topic whose dead-letter topic has three partitions (as operations may
    make it), the service consuming it, and the environment of the dlq commands."""
    name = f"orders-test-{uuid.uuid4().hex[:10]}"
    ensure_topics(KAFKA, {name: 4, f"{name}.dlq": 3})
    env = {
        **os.environ,
        "ORDER_SERVICE_DATABASE_URL": clean_database,
        "ORDER_SERVICE_KAFKA_BOOTSTRAP": KAFKA,
        "ORDER_SERVICE_KAFKA_TOPIC": name,
        "ORDER_SERVICE_KAFKA_DLQ_TOPIC": f"{name}.dlq",
    }
    container = build_container(service_settings(clean_database, name, admin_token=TOKEN))
    with TestClient(create_app(http_dependencies(container, run_consumer=True))) as client:
        yield name, client, env


def write_spread(topic: str, base_ms: int) -> None:
    """SPREAD's dead letters, each on its partition with its timestamp; the originals are not
    JSON, so a replay fails again."""
    producer = Producer({"bootstrap.servers": KAFKA, "enable.idempotence": True})
    failed: list[KafkaError] = []

    def report(err: KafkaError | None, _msg: Message) -> None:
        if err is not None:
            failed.append(err)

    for n, (partition, after) in enumerate(SPREAD):
        source = Source(topic, 3, 100 + n, None, b"key-%d" % n, b"{not json %d" % n)
        record = dlq_format.dead_letter(source, f"reason {n}")
        producer.produce(
            f"{topic}.dlq",
            value=record.value,
            key=record.key,
            headers=list(record.headers),
            partition=partition,
            timestamp=base_ms + after,
            on_delivery=report,
        )
        producer.flush(30)  # one at a time: each partition's offsets in SPREAD's order
    assert not failed, failed


def ids(listing: str) -> list[str]:
    return [line.split()[0] for line in listing.splitlines()[1:]]


def test_every_partition_of_the_dead_letter_topic_is_listed_shown_and_replayed(
    three_partitions: tuple[str, TestClient, dict[str, str]],
) -> None:
    topic, client, env = three_partitions
    base = (int(time.time()) - 600) * 1000  # recent: well within the topic's retention
    write_spread(topic, base)
    dlq_topic = f"{topic}.dlq"

    listed = dlq(env, "list").stdout
    assert listed.splitlines()[0].split()[:2] == ["partition:offset", "dead-lettered"]
    assert ids(listed) == BY_TIME
    assert ids(dlq(env, "list", "--limit", "3").stdout) == BY_TIME[-3:]

    shown = dlq(env, "show", "2:1").stdout
    assert shown.startswith(f"dead letter 2:1 of {dlq_topic}\n")
    assert "reason         reason 3" in shown
    assert f"source         {topic}/3@103" in shown
    assert "{not json 3" in shown

    # An offset alone cannot say which partition: a usage error, and nothing is sent.
    for argv in (
        ["show", "1"],
        ["replay", "--offset", "1"],
        ["replay", "--offset", "2:1", "--offset", "1"],
    ):
        said = dlq(env, *argv, code=2).stderr
        assert "alone is ambiguous" in said
        assert "give PARTITION:OFFSET" in said
    assert sum(end_offsets(topic).values()) == 0
    missing = dlq(env, "show", "1:5", code=1).stderr.strip()
    assert (
        missing
        == f"order-service: no dead letter at 1:5: {dlq_topic} partition 1 holds offsets 0 to 1"
    )

    auth = {"Authorization": f"Bearer {TOKEN}"}
    body = client.get("/admin/dead-letters?limit=3", headers=auth).json()
    assert [f"{d['partition']}:{d['offset']}" for d in body["dead_letters"]] == [
        "2:2",
        "1:1",
        "0:1",
    ]
    assert body["partitions"] == [
        {"partition": 0, "first_offset": 0, "next_offset": 2},
        {"partition": 1, "first_offset": 0, "next_offset": 2},
        {"partition": 2, "first_offset": 0, "next_offset": 3},
    ]

    # Since base + 25: on each partition from its first at or after then, merged by time.
    since = datetime.fromtimestamp((base + 25) / 1000, tz=UTC).isoformat(timespec="milliseconds")
    dry = dlq(env, "replay", "--since", since, "--dry-run").stdout
    assert f"would replay 4 dead letters to {topic} (2:1, 0:1, 1:1, 2:2)" in dry

    replayed = dlq(env, "replay", "--offset", "2:1").stdout
    assert f"replayed 1 dead letters to {topic} (2:1)" in replayed
    (replay,) = read_all(topic, expected=1)
    assert replay.value() == b"{not json 3"  # type: ignore[attr-defined]
    assert (dlq_format.REPLAY_OF, b"2:1") in replay.headers()  # type: ignore[attr-defined]
    wait_for(
        lambda: sum(end_offsets(dlq_topic, partitions=3).values()) == len(SPREAD) + 1,
        what="the replay dead-lettered again",
    )
    newest = dlq(env, "list", "--limit", "1").stdout
    assert "[replay of 2:1]" in newest
    (again,) = ids(newest)
    assert "replay of      dead letter 2:1 (it failed again)" in dlq(env, "show", again).stdout
    (view,) = client.get("/admin/dead-letters?limit=1", headers=auth).json()["dead_letters"]
    assert (f"{view['partition']}:{view['offset']}", view["replay_of_partition"]) == (again, 2)
    assert view["replay_of"] == 1

    everything = dlq(env, "replay", "--all", "--dry-run").stdout
    assert f"would replay 8 dead letters to {topic} ({', '.join([*BY_TIME, again])})" in everything
