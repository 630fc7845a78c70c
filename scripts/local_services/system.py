"""The machine the servers run on: running a program to completion (``run``, ``argv``,
``as_user``), who runs the tool (root) and what another user can reach, and Debian packages
(apt-get update once per run, then install --no-install-recommends, waiting for dpkg's lock,
without letting the packages start their daemons)."""

from __future__ import annotations

import os
import pwd
import re
import stat
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from local_services.config import Run
from local_services.output import Fail, log

Completed = subprocess.CompletedProcess[str]


# -- programs ---------------------------------------------------------------------------------


def run(
    cmd: Sequence[str | Path],
    *,
    capture_output: bool = False,
    stdin: str | None = None,
    stdout: int | None = None,
    env: Mapping[str, str] | None = None,
) -> Completed:
    """subprocess.run in text mode from /, never raising on a non-zero exit."""
    return subprocess.run(
        [str(c) for c in cmd],
        check=False,
        text=True,
        capture_output=capture_output,
        input=stdin,
        stdout=stdout,
        env=env,
        cwd="/",
    )


def argv(template: str, *args: object, **values: object) -> list[str]:
    """Split TEMPLATE on blanks, then fill each word's {fields}: values may contain blanks."""
    count = iter(range(template.count("{}")))
    numbered = re.sub(r"\{\}", lambda _: f"{{{next(count)}}}", template)  # {} {} -> {0} {1}
    return [word.format(*args, **values) for word in numbered.split()]


def as_user(user: str, cmd: Sequence[str | Path]) -> list[str]:
    return ["runuser", "-u", user, "--", *map(str, cmd)]


# -- users ------------------------------------------------------------------------------------


def need_root() -> None:
    if os.geteuid() != 0:
        raise Fail("must run as root (apt-get, runuser postgres)")


def user_can_traverse(path: Path, user: str) -> bool:
    """Can USER reach PATH (search permission on it and every parent)? Ignores ACLs."""
    try:
        pw = pwd.getpwnam(user)
    except KeyError:
        return False
    groups = set(os.getgrouplist(user, pw.pw_gid))
    for part in [path, *path.parents]:
        try:
            st = part.stat()
        except OSError:
            return False
        if st.st_uid == pw.pw_uid:
            bit = stat.S_IXUSR
        else:
            bit = stat.S_IXGRP if st.st_gid in groups else stat.S_IXOTH
        if pw.pw_uid != 0 and not st.st_mode & bit:
            return False
    return True


# -- Debian packages --------------------------------------------------------------------------


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
