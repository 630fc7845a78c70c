"""Where things are: the repository, its service script, the service command, the artifacts."""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
SERVICES_SH = REPO / "scripts" / "services.sh"
ORDER_SERVICE = str(Path(sys.executable).parent / "order-service")
ARTIFACTS = REPO / "test-artifacts" / "faults"
