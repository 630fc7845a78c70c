"""Bad input is contained: every kind of invalid message is dead-lettered, none blocks a
partition, none reaches PostgreSQL, none stops the consumer."""

from __future__ import annotations

import random
import signal
import time

import orjson
import pytest

from order_tools.fake_orders import random_order
from tests.faults.harness.audit import CommitWatch, audit
from tests.faults.harness.kafka import KafkaProbe, all_done, new_topic
from tests.faults.harness.measures import Figures
from tests.faults.harness.workload import Workload, publish
from tests.support import Spawn, service_env, wait_until

pytestmark = pytest.mark.faults

MAX_MESSAGE_BYTES = 50_000


def crafted() -> list[tuple[bytes | None, bytes, str]]:
    """(key, value, a phrase its dead-letter reason must contain): one of each kind."""
    rng = random.Random(2024)

    def order(**changes: object) -> dict[str, object]:
        return {**random_order(rng), **changes}

    huge = order()
    huge["delivery"] = {**huge["delivery"], "address": "x" * MAX_MESSAGE_BYTES}  # type: ignore[dict-item]
    nul = order()
    nul["delivery"] = {**nul["delivery"], "name": "a\u0000b"}  # type: ignore[dict-item]
    return [
        (b"k-empty", b"", "empty"),
        (None, b"\xff\xfe\xfd not utf-8", "not UTF-8"),
        (b"k-latin1", '{"order_uid": "caf\xe9"}'.encode("latin-1"), "not UTF-8"),
        (None, b"{this is not json", "not JSON"),
        (b"k-truncated", orjson.dumps(order())[:-7], "not JSON"),
        (None, b"[" * 5000, "not JSON"),
        (b"k-array", orjson.dumps([order()]), "must be an object"),
        (None, b"null", "must be an object"),
        (b"k-number", b"42", "must be an object"),
        (None, b'"just a string"', "must be an object"),
        (b"k-empty-object", b"{}", "is required"),
        (None, orjson.dumps(order(items=[])), "items"),
        (b"k-bad-id", orjson.dumps(order(order_uid="bad id <script>")), "order_uid"),
        (None, orjson.dumps(order(date_created="yesterday")), "date_created"),
        (b"k-type", orjson.dumps(order(sm_id="seven")), "sm_id"),
        (None, orjson.dumps(order(sm_id=2**63 - 1, oof_shard=None)), "oof_shard"),
        (b"k-nul", orjson.dumps(nul), "NUL"),
        (b"k-huge", orjson.dumps(huge), "over the limit"),
    ]


def test_invalid_messages_are_dead_lettered_and_never_block_a_partition(
    clean_database: str, spawn: Spawn, figures: Figures
) -> None:
    partitions = 4
    topic = new_topic(partitions)
    group = f"group-{topic}"
    kinds = crafted()
    # A run of 300 invalid messages with one key: whole batches of one partition are bad.
    poison = [(b"poison", b"{broken %d" % i) for i in range(300)]
    workload = Workload.generate(
        10_000,
        seed=101,
        invalid_ratio=0.05,
        extra_invalid=[(k, v) for k, v, _ in kinds],
        poison_run=poison,
    )
    env = service_env(clean_database, topic, max_message_bytes=MAX_MESSAGE_BYTES)
    consumer = spawn("consume", env, "consumer")
    probe = KafkaProbe(topic, group, partitions)
    with CommitWatch(topic, group, partitions) as commits:
        started = time.monotonic()
        publish(topic, workload)
        ends = probe.end_offsets()
        wait_until(all_done(probe, ends), 120, "every offset committed", [consumer])
        elapsed = time.monotonic() - started
    probe.close()

    assert consumer.alive, "an invalid message stopped the consumer"
    code, _ = consumer.stop(signal.SIGTERM)
    assert code == 0

    result = audit(clean_database, topic, group, partitions, workload, commits)
    figures.record(**result.figures(), invalid=result.invalid, seconds=elapsed)
    assert result.problems == []
    assert result.invalid >= 500 + len(kinds) + len(poison) - 100  # ~5% of 10,000 + crafted
    assert result.dead_lettered == result.invalid
    assert result.saved == result.valid == len(workload.valid_uids)
    for _, value, phrase in kinds:
        reasons = result.reason_of(value)
        assert reasons, f"{value[:40]!r} was not dead-lettered"
        assert all(phrase in reason for reason in reasons), (value[:40], reasons)
