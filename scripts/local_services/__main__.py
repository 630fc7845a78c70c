"""``python3 scripts/local_services ARGS`` (what scripts/services.sh runs)."""

import sys
from pathlib import Path

if sys.version_info < (3, 11):  # noqa: UP036  (run by whatever python3 the machine has)
    sys.exit("[services] ERROR: needs Python 3.11 or newer")
if not __package__:  # run as a directory: import the package from its parent
    sys.path[0] = str(Path(__file__).resolve().parent.parent)

from local_services.cli import main

sys.exit(main())
