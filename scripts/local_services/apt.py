"""Debian packages: apt-get update (once per run) and install --no-install-recommends, waiting
for dpkg's lock, without letting the packages start their daemons."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from local_services.commands import run
from local_services.config import Run
from local_services.output import Fail, log
from local_services.users import need_root


def apt_install(r: Run, packages: Sequence[str]) -> None:
    """apt-get install --no-install-recommends, without letting packages start daemons."""
    if not packages:
        return
    need_root()
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=600"]
    if not r.apt_updated:
        log("apt-get update")
        if run(["apt-get", "-q", *lock, "update"], env=env, stdout=subprocess.DEVNULL).returncode:
            raise Fail("apt-get update failed")
        r.apt_updated = True
    policy = Path("/usr/sbin/policy-rc.d")  # keeps init scripts from starting Debian's daemons
    created = not policy.exists()
    if created:
        policy.write_text("#!/bin/sh\nexit 101\n")
        policy.chmod(0o755)
    log(f"apt-get install --no-install-recommends {' '.join(packages)}")
    try:
        rc = run(
            [
                "apt-get",
                "install",
                "-y",
                "-q",
                "--no-install-recommends",
                *lock,
                "-o",
                "Dpkg::Options::=--force-confdef",
                "-o",
                "Dpkg::Options::=--force-confold",
                *packages,
            ],
            env=env,
        ).returncode
    finally:
        if created:
            policy.unlink(missing_ok=True)
    if rc:
        raise Fail(f"apt-get install {' '.join(packages)} failed (exit {rc})")
