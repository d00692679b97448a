"""Shared fixtures: a fresh workspace, and helpers to run the CLI in-process or as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from browserloop import browser_loop  # noqa: F401 - session fixture: one Chromium for all
from svcbench.workspace import Workspace, init_workspace

ROOT = Path(__file__).resolve().parent.parent
SVCBENCH = Path(sys.executable).with_name("svcbench")


@pytest.fixture(autouse=True, scope="session")
def _private_config_cache(tmp_path_factory):
    """Config cache entries of test workspaces go to a temporary directory, not ~/.cache."""
    os.environ["SVCBENCH_CACHE_DIR"] = str(tmp_path_factory.mktemp("config-cache"))


@pytest.fixture
def workspace_dir(tmp_path: Path) -> Path:
    """A new workspace with the example definitions."""
    return init_workspace(tmp_path / "ws")


@pytest.fixture
def workspace(workspace_dir: Path):
    ws = Workspace.open(workspace_dir)
    yield ws
    ws.close()


def run_cli(*args: str, cwd: Path | None = None, input: str | None = None,
            env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the installed ``svcbench`` console script as a user would."""
    full_env = {**os.environ, "COLUMNS": "200", **(env or {})}
    return subprocess.run([str(SVCBENCH), *args], cwd=cwd, input=input, capture_output=True,
                          text=True, env=full_env, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli
