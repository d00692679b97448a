"""Command: datasette-metadata (describe the database for Datasette)."""

from __future__ import annotations

from pathlib import Path

import typer

from ._app import app
from ._common import WorkspaceOption, open_workspace
from ._output import opened


@app.command("datasette-metadata")
def datasette_metadata(
    output: str | None = typer.Option(None, "--output", "-o", metavar="FILE",
                                      help="Write to FILE ('-' or none: standard output)."),
    workspace: Path | None = WorkspaceOption,
) -> None:
    """Print a Datasette metadata file: table and column descriptions, the analyst views
    (probe_results, replies, company_channel_quarters), internal tables hidden.

    datasette svcbench.db -m metadata.json  (see docs/datasette.md)
    """
    import json

    from ..datasette import metadata

    ws = open_workspace(workspace)
    document = metadata(ws.store.conn, database=ws.config.database_path.stem)
    with opened(output) as f:
        f.write(json.dumps(document, indent=2, ensure_ascii=False) + "\n")
