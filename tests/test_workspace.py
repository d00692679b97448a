"""Creating a workspace and loading its configuration."""

from __future__ import annotations

import pytest

from svcbench.workspace import Workspace


def test_init_creates_a_loadable_workspace(workspace_dir, cli):
    assert (workspace_dir / "svcbench.toml").is_file()
    assert (workspace_dir / "svcbench.db").is_file()
    ws = Workspace.open(workspace_dir)
    assert "northwind-outfitters" in ws.config.companies
    assert ws.store.company_names()["contoso-telecom"] == "Contoso Telecom"
    result = cli("config", "check", "--json", cwd=workspace_dir,
                 env={"SVCBENCH_ANNA_PASSWORD": "secret-value"})
    assert result.returncode == 0, result.stderr
    assert '"anna"' in result.stdout and "secret-value" not in result.stdout


def test_bad_config_names_file_and_key_in_one_line(workspace_dir, cli):
    companies = workspace_dir / "probes" / "companies.toml"
    companies.write_text(companies.read_text().replace('"Europe/London"', '"Mars/Base"'))
    result = cli("config", "check", cwd=workspace_dir)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "companies.toml" in result.stderr
    assert "company[2].timezone" in result.stderr
    assert "Mars/Base" in result.stderr
    assert "Traceback" not in result.stderr


def test_init_refuses_to_overwrite(workspace_dir, cli):
    result = cli("init", str(workspace_dir))
    assert result.returncode == 2
    assert "already exists" in result.stderr


@pytest.mark.parametrize("args, problem", [
    (["tick", "--concurrency", "0"], "svcbench tick: Invalid value for '--concurrency'"),
    (["nope"], "No such command 'nope'"),
    (["log", "call"], "svcbench log call: Missing argument 'company'"),
    (["results", "--limit", "many"], "'--limit'"),
    (["probes", "--status", "weird"], "--status: unknown status 'weird'"),
])
def test_bad_arguments_get_one_line_and_exit_2(workspace_dir, cli, args, problem):
    result = cli(*args, cwd=workspace_dir)
    assert result.returncode == 2
    assert problem in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_bare_command_and_groups_show_help(cli):
    for args in ([], ["log"], ["db"]):
        result = cli(*args)
        assert result.returncode == 0, (args, result.stderr)
        assert "Usage: svcbench" in result.stdout
