"""What the benchmarks' server processes have in common: a free loopback port, a readiness
probe over HTTP, the PYTHONPATH that lets another environment import the bench and the
service, and a polite termination (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import urllib.error
import urllib.request

from bench.environment import ROOT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def python_path() -> dict[str, str]:
    """PYTHONPATH for a server from another environment: the bench and the service."""
    paths = [str(ROOT), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    return {"PYTHONPATH": os.pathsep.join(p for p in paths if p)}


def http_ok(url: str) -> bool:
    try:
        # The URL is our own loopback http:// one.
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)
