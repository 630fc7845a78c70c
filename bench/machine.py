"""The facts about the machine and the code that a reader needs to compare figures.

The CPU model, the core count, the memory, the operating system and the versions of
Python, PostgreSQL, the Kafka broker, librdkafka and wrk, with the commit measured;
``src_fingerprint`` tells whether the service's code changed while a run went on.
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

from bench.cpu import kafka_broker
from bench.environment import ADMIN_URL, ROOT


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
