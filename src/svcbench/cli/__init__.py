"""The ``svcbench`` command line: thin commands over the library, rendered with rich."""

from __future__ import annotations

import os
import sys

from . import (  # noqa: F401 - importing a module registers its commands
    campaign,
    chat,
    db,
    demo,
    email,
    manual,
    report,
    results,
    setup,
)
from ._app import app


def main() -> None:
    """Entry point: every known error becomes one line on stderr and a documented exit code."""
    from ..errors import SvcbenchError

    try:
        app(prog_name="svcbench")
    except SvcbenchError as exc:
        sys.stderr.write(f"svcbench: error: {exc}\n")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.stderr.write("svcbench: interrupted\n")
        sys.exit(130)
    except Exception as exc:  # a bug: say so in one line, the traceback only on request
        if os.environ.get("SVCBENCH_DEBUG"):
            raise
        sys.stderr.write(
            f"svcbench: internal error: {type(exc).__name__}: {exc} "
            "(set SVCBENCH_DEBUG=1 for a traceback)\n"
        )
        sys.exit(70)
