"""Chromium for tests/browser (install only): Debian's /usr/bin/chromium and chromedriver.

Installed with --no-install-recommends, which keeps out udev, upower, cups, avahi and
system-config-printer. ``dbus-x11`` is named explicitly: GTK's dconf needs a session bus, and
without it apt picks dbus-user-session, which pulls in systemd. ``fonts-liberation`` is the one
recommended package worth having (text renders with real metrics).
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from local_services.output import Fail, log
from local_services.service import Service, status_line

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
PACKAGES = ["chromium", "fonts-liberation", "dbus-x11"]
HEADLESS = ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "about:blank"]


def chromium_output(*args: str, timeout: float = 60) -> str:
    try:
        done = subprocess.run(
            [str(CHROMIUM), *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"({exc})"
    return done.stdout.strip() or done.stderr.strip()[-300:]


class Chromium(Service):
    name = "chromium"

    def missing_packages(self) -> list[str]:
        missing = [] if CHROMIUM.exists() else PACKAGES
        return missing if DRIVER.exists() else [*missing, "chromium-driver"]

    def prepare(self, installed: Sequence[str]) -> None:
        """Just installed: check that it runs headless (what Playwright needs)."""
        if "chromium" in installed:
            dom = chromium_output(*HEADLESS)
            if "<html" not in dom:
                raise Fail(f"chromium does not run headless: {dom}")
            log("chromium: runs headless")

    def wait(self) -> None:
        log(f"chromium: installed ({chromium_output('--version', timeout=20) or '?'})")

    def status(self) -> str:
        if not CHROMIUM.exists():
            return status_line(
                self.name, "missing", "-", "run: scripts/services.sh install chromium"
            )
        driver = f"chromedriver {DRIVER}" if DRIVER.exists() else "no chromedriver"
        return status_line(self.name, "installed", "-", f"{CHROMIUM}, {driver}")
