"""The ``svcbench`` command line: thin commands over the library, rendered with rich."""

from __future__ import annotations

import os
import sys

from . import (  # noqa: F401 - importing a module registers its commands
    campaign,
    chat,
    datasette,
    db,
    demo,
    email,
    form,
    grade,
    manual,
    phone,
    plugins,
    replies,
    report,
    results,
    setup,
)
from ._app import app


def main() -> None:
    """Entry point: every known error becomes one line on stderr and a documented exit code."""
    from ..errors import SvcbenchError

    try:
        code = app(prog_name="svcbench", standalone_mode=False)
    except _UsageErrors as exc:
        sys.exit(_usage_error(exc))
    except _Abort:
        sys.stderr.write("svcbench: aborted\n")
        sys.exit(1)
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
    sys.exit(code if isinstance(code, int) else 0)


from typer import Abort as _Abort  # noqa: E402

try:  # recent typer vendors click
    from typer._click.exceptions import ClickException as _UsageErrors
except ImportError:  # pragma: no cover - older typer with click as a dependency
    from click.exceptions import ClickException as _UsageErrors


def _usage_error(exc) -> int:
    """Bad arguments: one line naming the command, as every other error (help when bare)."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        sys.stdout.write(ctx.get_help() + "\n")
        return 0
    message = " ".join(exc.format_message().split())
    where = f"{ctx.command_path}: " if ctx is not None else ""
    hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
    sys.stderr.write(f"svcbench: error: {where}{message}{hint}\n")
    return exc.exit_code
