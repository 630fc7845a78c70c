"""py-spy on a running process: two recordings at once at the same rate (every thread,
wall-clock, and only the thread holding the GIL) while a block runs, the CPU time of each
of its threads over the same window from /proc, and the raw recordings read back as
samples (thread, thread pool, frames, count).
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import attrs

from bench import cpu

PY_SPY = Path(sys.executable).parent / "py-spy"
MODES = {"wall": ["--idle"], "gil": ["--gil"]}
_THREAD = re.compile(r"^thread \((\w+)\)(?::\s*(.*))?$")


def _group(thread_name: str) -> str:
    """Threads of one pool under one name: 'order-saver_0' -> 'order-saver'."""
    name = thread_name.strip() or "unnamed"
    while (shorter := re.sub(r"[-_ ]?\d+$", "", name)) != name and shorter:
        name = shorter
    return name


@attrs.frozen
class Sample:
    thread: str  # thread id
    group: str  # thread name, pools folded together
    frames: tuple[str, ...]  # outermost first
    count: int


def read_raw(path: Path) -> list[Sample]:
    samples = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        match = _THREAD.match(frames[0])
        if match is None:
            continue
        samples.append(Sample(match.group(1), _group(match.group(2) or ""), tuple(frames[1:]),
                              int(count)))  # fmt: skip
    return samples


def thread_cpu(pid: int) -> dict[str, float]:
    """CPU seconds used so far by each thread of ``pid``, by thread id."""
    found = {}
    for task in Path(f"/proc/{pid}/task").glob("[0-9]*"):
        found[task.name] = cpu.cpu_seconds_of(task / "stat")
    return found


@attrs.define
class Recording:
    paths: dict[str, Path]
    thread_cpu: dict[str, float] = attrs.Factory(dict)  # over the recording, per thread

    def samples(self, mode: str) -> list[Sample]:
        return read_raw(self.paths[mode])


@contextmanager
def recording(pid: int, out: Path, rate: int) -> Iterator[Recording]:
    """The py-spy recordings of ``pid`` while the block runs, and its threads' CPU time."""
    paths = {mode: out / f"{mode}.raw" for mode in MODES}
    result = Recording(paths)
    processes = []
    for mode, flags in MODES.items():
        args = [str(PY_SPY), "record", "--pid", str(pid), "--rate", str(rate), "--format",
                "raw", "--threads", "--nolineno", *flags, "--output", str(paths[mode])]  # fmt: skip
        log = (out / f"{mode}.log").open("wb")
        processes.append((subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT), log))
    before = thread_cpu(pid)
    try:
        yield result
    finally:
        after = thread_cpu(pid)
        result.thread_cpu = {t: cpu - before.get(t, 0.0) for t, cpu in after.items()}
        for process, _ in processes:
            process.send_signal(signal.SIGINT)
        for process, log in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()
    for mode, path in paths.items():
        if not path.exists():
            text = (out / f"{mode}.log").read_text(errors="replace")[-500:]
            raise RuntimeError(f"py-spy wrote no {mode} recording: {text}")


def version() -> str:
    out = subprocess.run([str(PY_SPY), "--version"], capture_output=True, text=True, check=False)
    return out.stdout.strip().removeprefix("py-spy ") or "unknown"
