"""A reference app of ``bench.reference_apps`` as a process of its own, on uvicorn with the
service's server settings or on granian, for wrk to drive as it drives the service.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from bench.environment import ROOT
from bench.process_control import free_port, http_ok, python_path, terminate


class ReferenceProcess:
    """A reference ASGI app of ``bench.reference_apps``, one worker, no access log: on
    uvicorn with the service's own server settings (uvloop, httptools), or on granian
    (uvloop) given the path of its executable."""

    def __init__(
        self, app: str, body_file: Path, log_dir: Path, granian: str | None = None
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        where = ["--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"]
        if granian is None:
            args = [
                sys.executable, "-m", "uvicorn", f"bench.reference_apps:{app}", *where,
                "--loop", "uvloop", "--http", "httptools", "--log-level", "warning",
                "--lifespan", "off",
            ]  # fmt: skip
        else:
            args = [
                granian, "--interface", "asginl", "--loop", "uvloop", "--workers", "1", *where,
                "--log-level", "warning", f"bench.reference_apps:{app}",
            ]  # fmt: skip
        self.log_path = log_dir / f"reference-{app}-{self.port}.log"
        self._log = self.log_path.open("wb")
        env = {**os.environ, "BENCH_BODY_FILE": str(body_file), **python_path()}
        self.process = subprocess.Popen(
            args, stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def __enter__(self) -> ReferenceProcess:
        deadline = time.monotonic() + 30
        while not http_ok(self.url + "/order?id=x"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.__exit__()
                raise RuntimeError(f"the reference app did not start; see {self.log_path}")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        terminate(self.process)
        self._log.close()
