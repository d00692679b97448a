"""Creating a workspace and loading its configuration."""

from __future__ import annotations

from svcbench.workspace import Workspace


def test_init_creates_a_loadable_workspace(workspace_dir, cli):
    assert (workspace_dir / "svcbench.toml").is_file()
    assert (workspace_dir / "svcbench.db").is_file()
    ws = Workspace.open(workspace_dir)
    assert "northwind-outfitters" in ws.config.companies
    assert ws.store.company_names()["contoso-telecom"] == "Contoso Telecom"
    result = cli("config", "check", "--json", cwd=workspace_dir)
    assert result.returncode == 0, result.stderr
    assert '"anna"' in result.stdout


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
