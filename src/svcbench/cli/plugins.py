"""Command: plugins (the probe types and chat connectors svcbench can use)."""

from __future__ import annotations

from ._app import app
from ._common import console, fail
from ._output import Output, output_options


@app.command()
@output_options
def plugins(out: Output = Output()) -> None:
    """List installed probe types (svcbench.probes) and chat connectors
    (svcbench.chat_connectors), with the package each comes from.

    Plugins are Python packages that declare entry points in these groups; to try one without
    packaging it, name it in SVCBENCH_EXTRA_PROBES="name=module:Class,...".
    """
    from ..errors import ConfigError
    from ..plugins import installed

    try:
        rows = installed()
    except ConfigError as exc:
        fail(str(exc))
    out.emit(rows, table=_table)


def _table(rows: list[dict[str, str]]) -> None:
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for column in ("kind", "name", "package", "target"):
        table.add_column(column, overflow="fold")
    kinds = {"svcbench.probes": "probe", "svcbench.chat_connectors": "chat connector"}
    for row in rows:
        table.add_row(kinds.get(row["group"], row["group"]), row["name"],
                      row["package"] or row["source"], row["target"])
    console().print(table)
