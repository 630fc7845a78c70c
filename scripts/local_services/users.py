"""Who runs the tool (root, for apt and runuser) and what another user can reach."""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from local_services.output import Fail


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
