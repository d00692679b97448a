"""Command: plugins (the probe types and chat connectors svcbench can use)."""

from __future__ import annotations

from ._app import app
from ._common import JsonOption, console, fail, print_json


@app.command()
def plugins(as_json: bool = JsonOption) -> None:
    """List installed probe types (svcbench.probes) and chat connectors
    (svcbench.chat_connectors), with the package each comes from.

    Plugins are Python packages that declare entry points in these groups; to try one without
    packaging it, name it in SVCBENCH_EXTRA_PROBES="name=module:Class,...".
    """
    from rich.table import Table

    from ..errors import ConfigError
    from ..plugins import installed

    try:
        rows = installed()
    except ConfigError as exc:
        fail(str(exc))
    if as_json:
        print_json(rows)
        return
    table = Table(show_edge=False, pad_edge=False)
    for column in ("kind", "name", "package", "target"):
        table.add_column(column, overflow="fold")
    kinds = {"svcbench.probes": "probe", "svcbench.chat_connectors": "chat connector"}
    for row in rows:
        table.add_row(kinds.get(row["group"], row["group"]), row["name"],
                      row["package"] or row["source"], row["target"])
    console().print(table)
