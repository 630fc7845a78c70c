"""Commands run to completion: ``run`` (text mode, from /, never raising), ``argv`` (a
template split into words, each filled in), ``as_user``."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

Completed = subprocess.CompletedProcess[str]


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
