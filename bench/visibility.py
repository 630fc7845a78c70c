"""Visibility: how long after its publish is acknowledged an order can be read through GET.

``order-service serve`` (HTTP and the consumer in one process, default settings) runs on a
fresh database and topic. A producer thread publishes orders at a steady rate (1,000/s by
default) with the service's own producer settings (acks=all, idempotent, linger 5 ms, lz4)
and notes the moment each acknowledgement arrives, with the order's partition and offset.
Meanwhile an asyncio poller asks ``GET /order?id=`` until the answer is 200, over a pool of
keep-alive connections (``KeepAliveClient``, one request on each at a time); an order's
figure is the time from its acknowledgement to the end of that first 200 response.

Polling every order every few milliseconds would cost the service tens of thousands of
requests a second. The consumer saves a partition's messages in offset order, and an order
becomes visible when its batch is committed and cached, so the poller asks, for each
partition, only for the oldest order not seen yet (every ``TICK`` seconds); once that one
answers 200 it asks for the following ones at once, ``WINDOW`` at a time in parallel, until
one answers 404 (that one is then the oldest not seen). Every order is still read by its
own GET, and the polling costs the service at most ``1/TICK`` requests a second per
partition (200 at 5 ms) plus about one per order: a light load beside the consumer's.
Timing: one monotonic clock; an acknowledgement is noted when librdkafka hands it over (the
publisher thread polls for it continuously), so both ends are within a millisecond or so.
"""

from __future__ import annotations

import asyncio
import collections
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs
from confluent_kafka import KafkaError, Message, Producer

from adapters.kafka.client.records import Record
from bench.environment import (
    KAFKA,
    PARTITIONS,
    Disturbed,
    create_database,
    create_topic,
    delete_topic,
    drop_database,
    new_group,
)
from bench.processes import ServiceProcess
from order_tools.fake_orders import messages

TICK = 0.005  # seconds between two asks for a partition's oldest unseen order
WINDOW = 16  # orders asked for at once after the oldest one turned visible
CONNECTIONS = 24  # keep-alive connections of the poller
DRAIN_TIMEOUT = 30.0  # seconds after the last acknowledgement before unseen orders count
WARM_UP_ORDERS = 200


@attrs.frozen
class VisibilityRun:
    target_rate: float  # orders/s asked of the producer
    published: int  # acknowledged by the broker
    publish_seconds: float  # first send to last acknowledgement
    seen: int  # orders that answered 200 in time
    gets: int  # GET requests the poller made
    latency_ms: dict[str, float]  # p50, p90, p99, p99.9, max, mean
    mean_batch: float | None  # the consumer's mean batch size meanwhile (from /metrics)
    mean_save_ms: float | None  # its mean time to store one batch

    @property
    def rate(self) -> float:
        return self.published / self.publish_seconds


@attrs.frozen
class Ack:
    offset: int
    order_uid: str
    acked_at: float


def _producer() -> Producer:
    # The settings of the service's KafkaPublisher.
    return Producer(
        {
            "bootstrap.servers": KAFKA,
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 5,
            "compression.type": "lz4",
        }
    )


class PacedPublisher(threading.Thread):
    """Publishes the records on a fixed schedule; notes each acknowledgement as it arrives."""

    def __init__(self, topic: str, records: Sequence[Record], rate: float) -> None:
        super().__init__(name="bench-publisher", daemon=True)
        self._topic = topic
        self._records = records
        self._rate = rate
        self.acks: collections.deque[tuple[int, Ack]] = collections.deque()
        self.failed = 0
        self.acked = 0
        self.started_at = 0.0
        self.last_ack_at = 0.0
        self.finished = threading.Event()

    def _delivered(self, err: KafkaError | None, message: Message) -> None:
        now = time.monotonic()
        if err is not None:
            self.failed += 1
            return
        key = message.key() or b""
        self.acked += 1
        self.acks.append((message.partition() or 0, Ack(message.offset() or 0, key.decode(), now)))
        self.last_ack_at = now

    def run(self) -> None:
        producer = _producer()
        try:
            self.started_at = start = time.monotonic()
            for index, record in enumerate(self._records):
                slot = start + index / self._rate
                while (now := time.monotonic()) < slot:
                    producer.poll(slot - now)  # serves the acknowledgements as they come
                producer.produce(
                    self._topic, value=record.value, key=record.key, on_delivery=self._delivered
                )
                producer.poll(0)
            producer.flush(30)
        finally:
            self.finished.set()


class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive client: a pool of connections, one GET each at a time."""

    def __init__(self, port: int) -> None:
        self._port = port
        self._free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )
        self.requests = 0

    async def open(self, count: int) -> None:
        for _ in range(count):
            self._free.put_nowait(await asyncio.open_connection("127.0.0.1", self._port))

    async def close(self) -> None:
        while not self._free.empty():
            _, writer = self._free.get_nowait()
            writer.close()

    async def get(self, order_uid: str) -> tuple[int, float]:
        """The status of GET /order?id=..., and when its response had been read."""
        reader, writer = await self._free.get()
        try:
            writer.write(f"GET /order?id={order_uid} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
        except BaseException:
            writer.close()
            self._free.put_nowait(await asyncio.open_connection("127.0.0.1", self._port))
            raise
        self._free.put_nowait((reader, writer))
        self.requests += 1
        return status, time.monotonic()


async def _watch(
    port: int, publisher: PacedPublisher, partitions: int
) -> tuple[list[float], int, int]:
    """Poll until every acknowledged order answered 200 (or the drain timeout passed);
    returns the latencies in ms, the orders left unseen and the GET requests made."""
    client = KeepAliveClient(port)
    await client.open(CONNECTIONS)
    pending = [collections.deque[Ack]() for _ in range(partitions)]
    latencies: list[float] = []
    done = asyncio.Event()

    async def follow(queue: collections.deque[Ack]) -> None:
        """Ask for the partition's oldest unseen order; once it is visible, the next ones."""
        while not done.is_set():
            if not queue:
                await asyncio.sleep(TICK / 5)
                continue
            asked = time.monotonic()
            head = queue[0]
            status, at = await client.get(head.order_uid)
            if status != 200:
                await asyncio.sleep(max(0.0, TICK - (time.monotonic() - asked)))
                continue
            latencies.append((at - head.acked_at) * 1000)
            queue.popleft()
            while queue:  # the rest of its batch is likely visible too
                window = [queue[i] for i in range(min(WINDOW, len(queue)))]
                answers = await asyncio.gather(*(client.get(a.order_uid) for a in window))
                visible = set()
                for ack, (answer, at) in zip(window, answers, strict=True):
                    if answer == 200:
                        latencies.append((at - ack.acked_at) * 1000)
                        visible.add(ack.order_uid)
                kept = [a for a in queue if a.order_uid not in visible]
                queue.clear()
                queue.extend(kept)
                if len(visible) < len(window):
                    break

    followers = [asyncio.create_task(follow(queue)) for queue in pending]
    try:
        while True:
            while publisher.acks:
                partition, ack = publisher.acks.popleft()
                pending[partition].append(ack)
            if publisher.finished.is_set() and not publisher.acks:
                if not any(pending):
                    break
                if time.monotonic() > publisher.last_ack_at + DRAIN_TIMEOUT:
                    break
            await asyncio.sleep(TICK / 5)
    finally:
        done.set()
        await asyncio.gather(*followers, return_exceptions=True)
        await client.close()
    return latencies, sum(len(q) for q in pending), client.requests


def _percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    ordered = sorted(values)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    return {
        "p50": at(0.50),
        "p90": at(0.90),
        "p99": at(0.99),
        "p99.9": at(0.999),
        "max": ordered[-1],
        "mean": sum(ordered) / len(ordered),
    }


_METRIC = re.compile(r"^(order_service_batch_(?:size|save_seconds)_(?:sum|count)) (\S+)$", re.M)


def _batch_metrics(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:  # noqa: S310 (loopback)
        text = response.read().decode()
    return {name: float(value) for name, value in _METRIC.findall(text)}


def _window(
    service: ServiceProcess, topic: str, records: Sequence[Record], rate: float, partitions: int
) -> VisibilityRun:
    before = _batch_metrics(service.url)
    publisher = PacedPublisher(topic, records, rate)
    publisher.start()
    latencies, unseen, gets = asyncio.run(_watch(service.port, publisher, partitions))
    publisher.join(30)
    after = _batch_metrics(service.url)
    if publisher.failed:
        raise Disturbed(f"{publisher.failed} publishes failed")
    if unseen:
        raise Disturbed(f"{unseen} orders were not visible {DRAIN_TIMEOUT:.0f}s after the last ack")

    def mean(total: str, count: str) -> float | None:
        n = after.get(count, 0) - before.get(count, 0)
        return (after.get(total, 0) - before.get(total, 0)) / n if n else None

    mean_save = mean(
        "order_service_batch_save_seconds_sum", "order_service_batch_save_seconds_count"
    )
    return VisibilityRun(
        target_rate=rate,
        published=publisher.acked,
        publish_seconds=publisher.last_ack_at - publisher.started_at,
        seen=len(latencies),
        gets=gets,
        latency_ms=_percentiles(latencies),
        mean_batch=mean("order_service_batch_size_sum", "order_service_batch_size_count"),
        mean_save_ms=None if mean_save is None else mean_save * 1000,
    )


def measure(
    log_dir: Path, rate: float, seconds: float, runs: int, say: Callable[[str], None]
) -> list[VisibilityRun]:
    """``runs`` windows of ``seconds`` at ``rate`` orders/s against one ``serve`` process."""
    count = int(rate * seconds)
    database_url = create_database()
    topic = create_topic()
    results: list[VisibilityRun] = []
    try:
        settings = {
            "kafka_topic": topic,
            "kafka_dlq_topic": f"{topic}.dlq",
            "kafka_group": new_group("visibility"),
        }
        with ServiceProcess(database_url, log_dir, settings, command="serve") as service:
            records = [Record(k, v) for k, v, _ in messages(WARM_UP_ORDERS + runs * count, 7)]
            # A first few orders: the consumer has joined and every path has run once.
            _window(service, topic, records[:WARM_UP_ORDERS], rate, PARTITIONS)
            for index in range(runs):
                start = WARM_UP_ORDERS + index * count
                run = _window(service, topic, records[start : start + count], rate, PARTITIONS)
                lat = run.latency_ms
                say(
                    f"visibility run {index + 1}: {run.published:,} orders at "
                    f"{run.rate:,.0f}/s: p50 {lat['p50']:.0f} ms, p99 {lat['p99']:.0f} ms, "
                    f"max {lat['max']:.0f} ms; {run.gets:,} GETs; "
                    f"mean batch {run.mean_batch or 0:.0f}"
                )
                results.append(run)
    finally:
        delete_topic(topic)
        drop_database(database_url)
    return results
