"""Dead letters over several partitions, no Kafka needed: the merge by time
(order_core.merged_by_time, latest_by_time), the reader's bounded reads, and how the CLI
names a dead letter (``PARTITION:OFFSET``) and chooses ranges to replay."""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.kafka.client.records import Record
from adapters.kafka.dead_letters import reader as reader_module
from adapters.kafka.dead_letters.format import REPLAY_OF, Source, dead_letter, replay_record
from adapters.kafka.dead_letters.reader import DeadLetterReader
from entrypoints.cli import dead_letters as dlq_commands
from entrypoints.cli.dead_letters import Ambiguous, Named, named, resolve
from entrypoints.cli.errors import CommandError
from entrypoints.container import DeadLetterTools
from entrypoints.settings import Settings, load
from order_core import DeadLetter, DeadLetterId, by_time, latest_by_time, merged_by_time
from tests.unit.dead_letter_archive import MemoryArchive, letter

T0 = 1_700_000_000_000


def record(n: int) -> Record:
    return dead_letter(Source("orders", 1, n, None, b"k%d" % n, b'{"n": %d}' % n), f"r{n}")


def partition_letters(partition: int, times: Sequence[int | None]) -> list[DeadLetter]:
    return [letter(partition, offset, ms, record(offset)) for offset, ms in enumerate(times)]


# Each partition's timestamps as Kafka keeps them (non-decreasing with the offset; maybe
# none at all, an old record format), few distinct values so that ties across partitions
# are common.
sorted_times = st.lists(st.none() | st.integers(0, 20), max_size=12).map(
    lambda ts: sorted(ts, key=lambda t: -1 if t is None else t)
)
any_times = st.lists(st.none() | st.integers(-5, 20), max_size=12)


def key(one: DeadLetter) -> tuple[int, int]:
    return one.partition, one.offset


@given(st.lists(sorted_times, max_size=5), st.integers(0, 70))
def test_the_merge_is_sorted_by_time_partition_offset_and_loses_nothing(
    times: list[list[int | None]], limit: int
) -> None:
    partitions = [partition_letters(p, ts) for p, ts in enumerate(times)]
    everything = [one for part in partitions for one in part]
    merged = list(merged_by_time(iter(part) for part in partitions))
    assert merged == sorted(everything, key=by_time)
    assert Counter(map(key, merged)) == Counter(map(key, everything))  # none lost or doubled
    latest = latest_by_time((iter(part) for part in partitions), limit)
    assert len(latest) == min(limit, len(everything))
    assert latest == (sorted(everything, key=by_time)[-limit:] if limit else [])
    # As the reader does it: the last ``limit`` of each partition are enough.
    assert latest_by_time((part[-limit:] if limit else [] for part in partitions), limit) == latest


@given(st.lists(any_times, max_size=5), st.integers(1, 70))
def test_a_partition_whose_clock_steps_back_keeps_its_order(
    times: list[list[int | None]], limit: int
) -> None:
    partitions = [partition_letters(p, ts) for p, ts in enumerate(times)]
    merged = list(merged_by_time(partitions))
    assert Counter(map(key, merged)) == Counter(key(o) for part in partitions for o in part)
    for p, part in enumerate(partitions):
        assert [o.offset for o in merged if o.partition == p] == [o.offset for o in part]
    assert latest_by_time(partitions, limit) == merged[-limit:]


def letters_on_three() -> MemoryArchive:
    """Three partitions whose dead letters interleave in time (ties broken by partition)."""
    times = {0: [T0, T0 + 30, T0 + 60], 1: [T0 + 10, T0 + 30], 2: [T0 + 20, T0 + 50, T0 + 70]}
    return MemoryArchive(
        [one for p, ts in times.items() for one in partition_letters(p, ts)], partitions=3
    )


@pytest.fixture
def quiet_reader(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[DeadLetterReader, MemoryArchive]]:
    """The real reader's logic over an in-memory archive: its partitions, bounds and
    single-partition reads are the fake's, the merging and chunking its own."""
    fake = letters_on_three()
    reader = DeadLetterReader("127.0.0.1:1", "orders.dlq", {"log_level": "0"}, timeout=1)
    monkeypatch.setattr(reader, "partitions", fake.partitions)
    monkeypatch.setattr(reader, "bounds", fake.bounds)
    monkeypatch.setattr(reader, "read", fake.read)
    with reader:
        yield reader, fake


def test_latest_reads_no_more_than_the_limit_from_each_partition(
    quiet_reader: tuple[DeadLetterReader, MemoryArchive],
) -> None:
    reader, fake = quiet_reader
    newest = reader.latest(2)
    assert [str(one.id) for one in newest] == ["0:2", "2:2"]
    assert fake.reads == [(0, 1, 3), (1, 0, 2), (2, 1, 3)]
    assert [str(one.id) for one in reader.latest(100)] == [
        "0:0", "1:0", "2:0", "0:1", "1:1", "2:1", "0:2", "2:2"
    ]  # fmt: skip


def test_a_merge_reads_each_partition_a_chunk_at_a_time(
    quiet_reader: tuple[DeadLetterReader, MemoryArchive], monkeypatch: pytest.MonkeyPatch
) -> None:
    reader, fake = quiet_reader
    monkeypatch.setattr(reader_module, "_BATCH", 2)
    merged = list(reader.read_merged({0: (0, 3), 1: (0, 2), 2: (1, 3)}))
    assert [str(one.id) for one in merged] == ["0:0", "1:0", "0:1", "1:1", "2:1", "0:2", "2:2"]
    assert all(end - start <= 2 for _, start, end in fake.reads)
    assert sorted(fake.reads) == [(0, 0, 2), (0, 2, 3), (1, 0, 2), (2, 1, 3)]


@pytest.mark.parametrize(
    ("text", "wanted"),
    [("2:17", Named(2, 17)), ("0:0", Named(0, 0)), ("17", Named(None, 17))],
)
def test_a_dead_letter_is_named_partition_colon_offset_or_by_offset_alone(
    text: str, wanted: Named
) -> None:
    assert named(text) == wanted


@pytest.mark.parametrize("text", ["", "-1", "1:", ":1", "1:2:3", "a:1", " 1", "١٢", "1_0"])
def test_anything_else_is_a_usage_error(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="PARTITION:OFFSET"):
        named(text)


def test_an_offset_alone_is_partition_0_only_on_a_one_partition_topic() -> None:
    one = MemoryArchive(partition_letters(0, [T0, T0]))
    assert resolve(one, Named(None, 1)) == DeadLetterId(0, 1)
    assert resolve(MemoryArchive(partitions=0), Named(None, 1)) == DeadLetterId(0, 1)
    three = letters_on_three()
    assert resolve(three, Named(2, 1)) == DeadLetterId(2, 1)
    with pytest.raises(Ambiguous, match=r"orders.dlq has 3 partitions; give PARTITION:OFFSET"):
        resolve(three, Named(None, 1))


@contextmanager
def tools_over(archive: MemoryArchive, sent: list[DeadLetter]) -> Iterator[DeadLetterTools]:
    yield DeadLetterTools(archive, sent.extend)


def cli(
    monkeypatch: pytest.MonkeyPatch, archive: MemoryArchive, *argv: str
) -> tuple[int, list[DeadLetter]]:
    sent: list[DeadLetter] = []
    monkeypatch.setattr(dlq_commands, "dead_letter_tools", lambda s: tools_over(archive, sent))
    parser = argparse.ArgumentParser()
    dlq_commands.add_parsers(
        parser.add_subparsers(),
        lambda name, handler, help, parent: _action(parent, name, handler),
    )
    args = parser.parse_args(["dlq", *argv])
    settings: Settings = load({}, {"kafka_dlq_topic": archive.name})
    return args.handler(settings, args, {}), sent


def _action(
    parent: argparse._SubParsersAction[argparse.ArgumentParser], name: str, handler: object
) -> argparse.ArgumentParser:
    p = parent.add_parser(name)
    p.set_defaults(handler=handler)
    return p


def test_show_and_replay_of_a_bare_offset_on_several_partitions_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["show", "1"], ["replay", "--offset", "2:1", "--offset", "1"]):
        code, sent = cli(monkeypatch, letters_on_three(), *argv)
        assert (code, sent) == (2, [])
        error = capsys.readouterr().err
        assert f"order-service dlq {argv[0]}: error: offset 1 alone is ambiguous" in error
        assert "give PARTITION:OFFSET (e.g. 0:1)" in error
    assert cli(monkeypatch, letters_on_three(), "show", "2:1")[0] == 0
    assert capsys.readouterr().out.startswith("dead letter 2:1 of orders.dlq\n")


def test_a_missing_dead_letter_says_what_its_partition_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for wanted, said in [
        ("2:9", "no dead letter at 2:9: orders.dlq partition 2 holds offsets 0 to 2"),
        ("7:0", "no dead letter at 7:0: orders.dlq has partitions 0, 1, 2"),
    ]:
        with pytest.raises(CommandError) as raised:
            cli(monkeypatch, letters_on_three(), "show", wanted)
        assert str(raised.value) == said
    with pytest.raises(
        CommandError, match=r"^no dead letter at 0:5: orders.dlq holds offsets 0 to 1$"
    ):
        cli(monkeypatch, MemoryArchive(partition_letters(0, [T0, T0])), "show", "5")


def test_replays_of_every_partition_go_in_time_order_each_up_to_its_end_at_the_start(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = letters_on_three()
    read = archive.read

    def read_while_replays_fail_again(partition: int, start: int, end: int) -> Iterator[DeadLetter]:
        # Each read sees one more dead letter on partition 1 (a replay that failed again):
        # none of them is replayed, since each range ends where its partition ended.
        again = archive.by_partition[1]
        again.append(letter(1, len(again), T0 + 1000, record(len(again))))
        return read(partition, start, end)

    monkeypatch.setattr(archive, "read", read_while_replays_fail_again)
    code, sent = cli(monkeypatch, archive, "replay", "--all")
    assert code == 0
    order = ["0:0", "1:0", "2:0", "0:1", "1:1", "2:1", "0:2", "2:2"]
    assert [str(one.id) for one in sent] == order
    assert f"replayed 8 dead letters to orders ({', '.join(order)})" in capsys.readouterr().out

    since = datetime.fromtimestamp((T0 + 25) / 1000, tz=UTC).isoformat()
    code, sent = cli(monkeypatch, letters_on_three(), "replay", "--since", since, "--dry-run")
    assert (code, sent) == (0, [])
    said = capsys.readouterr().out
    assert "would replay 5 dead letters to orders (0:1, 1:1, 2:1, 0:2, 2:2)" in said

    code, sent = cli(
        monkeypatch, letters_on_three(), "replay", "--offset", "2:1", "--offset", "0:2"
    )
    assert [str(one.id) for one in sent] == ["0:2", "2:1"]
    assert [replay_record(one).headers[-1] for one in sent] == [
        (REPLAY_OF, b"2"),  # partition 0: the offset alone, as every version wrote it
        (REPLAY_OF, b"2:1"),
    ]


def test_a_long_replay_names_the_first_ten(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    archive = MemoryArchive(partition_letters(0, [T0 + i for i in range(12)]))
    assert cli(monkeypatch, archive, "replay", "--all", "--dry-run")[0] == 0
    names = ", ".join(f"0:{i}" for i in range(10))
    assert f"would replay 12 dead letters to orders ({names} and 2 more)" in capsys.readouterr().out
