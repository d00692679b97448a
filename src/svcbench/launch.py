"""The ``svcbench`` entry point: an idle tick or an unchanged re-plan is answered before the
CLI (typer, rich, pydantic) is imported (``svcbench.fastpath``); everything else runs it."""

from __future__ import annotations

import os
import sys


def main() -> None:
    argv = sys.argv[1:]
    if ("tick" in argv or "plan" in argv) and not os.environ.get("SVCBENCH_NO_FAST_PATH"):
        from .fastpath import try_plan, try_tick

        if try_tick(argv) or try_plan(argv):
            sys.exit(0)
    from .cli import main as cli_main

    cli_main()
