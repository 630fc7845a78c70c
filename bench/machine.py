"""The machine under the benchmarks: the facts a reader needs to compare figures, and the
CPU time its processes use, read from /proc.

The facts: the CPU model, the core count, the memory, the operating system and the versions
of Python, PostgreSQL, the Kafka broker, librdkafka and wrk, with the commit measured;
``src_fingerprint`` tells whether the service's code changed while a run went on. The CPU
accounting: which processes are whose (a process's descendants, the Kafka broker, the
PostgreSQL backends of a database) and the CPU time they used, including that of the other
people's processes on the machine during a phase.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

import confluent_kafka
import psycopg

from bench.environment import ADMIN_URL, KAFKA, ROOT


def machine() -> dict[str, str]:
    """What a reader needs to compare figures: CPU, cores, memory, and the server versions."""
    return {
        "cpu": _cpu_model(),
        "cores": str(os.cpu_count()),
        "memory": f"{_mem_total_bytes() / 2**30:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "postgresql": _postgres_version(),
        "kafka": _kafka_version(),
        "librdkafka": confluent_kafka.libversion()[0],
        "wrk": _wrk_version(),
        "code": code_version(),
    }


def code_version() -> str:
    """The commit measured, and whether src/ had uncommitted changes on top of it."""

    def git(*args: str) -> str:
        root = Path(__file__).resolve().parent.parent
        out = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    try:
        head = git("rev-parse", "--short", "HEAD") or "unknown"
        changed = git("status", "--porcelain", "--untracked-files=no", "--", "src")
    except OSError:
        return "unknown"
    return head + (" with uncommitted changes in src/" if changed else "")


def src_fingerprint() -> str:
    """A digest of the service's Python code as it is on disk now (committed or not): a run
    is measured on one code only if this is the same at its start and its end."""
    digest = hashlib.blake2b(digest_size=16)
    for path in sorted((ROOT / "src").rglob("*.py")):
        with contextlib.suppress(OSError):
            digest.update(str(path).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_bytes() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _postgres_version() -> str:
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error:
        return "unreachable"
    return str(row[0]).split()[0] if row else "unknown"


def _kafka_version() -> str:
    """The version of the broker listening on our port, from its process's class path."""
    found = kafka_broker()
    if found is None:
        return "unknown"
    match = re.search(r"kafka[/_-](\d+\.\d+\.\d+)", " ".join(found[1]))
    return match.group(1) if match else "unknown"


def _wrk_version() -> str:
    if shutil.which("wrk") is None:
        return "missing"
    out = subprocess.run(["wrk", "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"wrk\s+(\S+)", out.stdout + out.stderr)
    return match.group(1) if match else "unknown"


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
