"""CPU accounting from /proc: which processes are whose (a process's descendants, the Kafka
broker, the PostgreSQL backends of a database) and the CPU time they used, including that
of the other people's processes on the machine during a phase.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

import psycopg

from bench.environment import ADMIN_URL, KAFKA


def children(pid: int) -> list[int]:
    """Every descendant process of ``pid``."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                found += [int(child), *children(int(child))]
    return found


_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU time used so far by these processes (those still there)."""
    return sum(cpu_seconds_of(Path(f"/proc/{pid}/stat")) for pid in pids)


def cpu_seconds_of(stat: Path, reaped_children: bool = False) -> float:
    """User plus system CPU time in a /proc/.../stat file (0 if it is gone); with
    ``reaped_children``, that of its children that have ended too."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        # The command name (field 2) may hold spaces: split after its closing bracket.
        fields = stat.read_text().rsplit(")", 1)[1].split()
        used = int(fields[11]) + int(fields[12])
        if reaped_children:
            used += int(fields[13]) + int(fields[14])
        return used / _CLOCK_TICKS
    return 0.0


_SERVERS = ("postgres", "memcached", "redis-server")


def foreign_cpu_seconds() -> float:
    """CPU time used so far by the processes that are neither this benchmark (with its
    children) nor the shared servers, with their ended children: other people's work on the
    machine. PostgreSQL and the Kafka broker serve them too, so this is a lower bound of
    what they take."""
    ours = {os.getpid(), *children(os.getpid())}
    broker = kafka_broker_pid()
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        pid = int(stat.parent.name)
        if pid in ours or pid == broker:
            continue
        with contextlib.suppress(OSError):
            if (stat.parent / "comm").read_text().strip() in _SERVERS:
                continue
        total += cpu_seconds_of(stat, reaped_children=True)
    return total


def backend_pids(database_url: str) -> list[int]:
    """The PostgreSQL server processes serving connections to this database now."""
    name = psycopg.conninfo.conninfo_to_dict(database_url)["dbname"]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return [int(row[0]) for row in rows]


def kafka_broker_pid() -> int | None:
    """The process of the broker listening on our Kafka port (to read its CPU time)."""
    found = kafka_broker()
    return None if found is None else found[0]


def kafka_broker() -> tuple[int, list[str]] | None:
    """(pid, command line) of the broker process listening on our Kafka port."""
    port = KAFKA.rsplit(":", 1)[-1]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            args = cmdline.read_bytes().decode(errors="replace").split("\0")
            if "kafka.Kafka" not in args:
                continue
            properties = Path(args[args.index("kafka.Kafka") + 1]).read_text()
            if re.search(rf"^listeners=.*:{port}\b", properties, re.MULTILINE):
                return int(cmdline.parent.name), args
    return None
