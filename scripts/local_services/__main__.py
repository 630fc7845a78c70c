"""``python3 scripts/local_services ARGS`` (what scripts/services.sh runs)."""

import sys
from pathlib import Path

if sys.version_info < (3, 11):  # noqa: UP036  (run by whatever python3 the machine has)
    sys.exit("[services] ERROR: needs Python 3.11 or newer")
if not __package__:  # run as a directory: import the package from its parent, not from here
    here = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if not p or Path(p).resolve() != here]
    sys.path.insert(0, str(here.parent))

try:
    from local_services.cli import main
except ModuleNotFoundError as exc:  # python3-minimal ships only part of the standard library
    sys.exit(
        f"[services] ERROR: {exc}: needs Python's whole standard library (apt-get install python3)"
    )

sys.exit(main())
