"""Conventions every command shares: version, global options, help at 80 columns, plugins,
completion, and the checks `config check` makes before a campaign needs them."""

from __future__ import annotations

import json

import pytest
import typer.main
from typer.testing import CliRunner

from svcbench.cli import app


def _commands(group=None, path=()):
    group = group or typer.main.get_command(app)
    for name, command in group.commands.items():
        yield (*path, name)
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))


ALL_COMMANDS = sorted(_commands())


def test_version(cli):
    from svcbench import __version__

    for flag in ("--version", "-V"):
        result = cli(flag)
        assert result.returncode == 0, result.stderr
        assert result.stdout == f"svcbench {__version__}\n"


def test_workspace_option_before_the_command(workspace_dir, tmp_path, cli):
    result = cli("-w", str(workspace_dir), "config", "check", "--json", cwd=tmp_path,
                 env={"SVCBENCH_ANNA_PASSWORD": "x"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["workspace"] == str(workspace_dir)
    # after the command it still works, and wins over the global one
    result = cli("-w", str(tmp_path), "probes", "--json", "-w", str(workspace_dir), cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("command", ALL_COMMANDS, ids=" ".join)
def test_help_fits_80_columns_and_keeps_brackets(command):
    result = CliRunner().invoke(app, [*command, "--help"], terminal_width=80,
                                env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("Usage: ")
    assert max(len(line) for line in lines) <= 80
    assert "…" not in result.output  # no option names or env vars cut short


def test_help_shows_bracketed_text_rather_than_reading_it_as_markup(cli):
    result = cli("chat", "try", "--help", env={"COLUMNS": "80"})
    assert "(its [company.channels.chat] is used)" in " ".join(result.stdout.split())


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts(shell, cli):
    result = cli("--show-completion", shell)
    assert result.returncode == 0, result.stderr
    assert "_SVCBENCH_COMPLETE" in result.stdout


def test_completion_completes_commands(cli):
    result = cli(env={"_SVCBENCH_COMPLETE": "complete_bash", "COMP_WORDS": "svcbench rep",
                      "COMP_CWORD": "1"})
    assert result.stdout.split() == ["report"]


def test_plugins_lists_built_ins_with_their_package(cli):
    result = cli("plugins", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    names = {(r["group"], r["name"]) for r in rows}
    assert {("svcbench.probes", "email"), ("svcbench.probes", "chat"),
            ("svcbench.chat_connectors", "browser")} <= names
    assert all(r["package"].startswith("svcbench ") for r in rows)
    result = cli("plugins", "--json", env={"SVCBENCH_EXTRA_PROBES": "mine=my_module:MyProbe"})
    [extra] = [r for r in json.loads(result.stdout) if r["name"] == "mine"]
    assert extra == {"group": "svcbench.probes", "name": "mine", "target": "my_module:MyProbe",
                     "package": "", "source": "SVCBENCH_EXTRA_PROBES"}
    result = cli("plugins", env={"SVCBENCH_EXTRA_PROBES": "nonsense"})
    assert result.returncode == 2
    assert result.stderr.strip() == ("svcbench: error: SVCBENCH_EXTRA_PROBES: 'nonsense' is "
                                     "not name=module:Class")


def test_config_check_names_unset_secret_variables_never_values(workspace_dir, cli):
    result = cli("config", "check", cwd=workspace_dir, env={"SVCBENCH_ANNA_PASSWORD": ""})
    assert result.returncode == 2
    errors = result.stderr.splitlines()
    assert len(errors) == 2  # smtp and imap both name it
    assert all(line.startswith("svcbench: error: ") and "shoppers.toml" in line
               and "SVCBENCH_ANNA_PASSWORD is not set" in line for line in errors)
    assert "smtp.password_env" in errors[0] and "imap.password_env" in errors[1]
    assert "OK" not in result.stdout
    result = cli("config", "check", "--json", cwd=workspace_dir,
                 env={"SVCBENCH_ANNA_PASSWORD": "hunter2-secret"})
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["ok"] is True and {s["variable"] for s in data["secrets"]} == \
        {"SVCBENCH_ANNA_PASSWORD"}
    assert "hunter2-secret" not in result.stdout + result.stderr


def test_init_example_chat_endpoint_builds_the_documented_url(workspace_dir):
    from svcbench.probes.chat.connectors.rest import RestOptions
    from svcbench.workspace import Workspace

    [company] = [c for c in Workspace.open(workspace_dir).config.companies.values()
                 if "chat" in c.channels]
    options = RestOptions(**{k: v for k, v in company.channels["chat"].options.items()
                             if k != "connector"})
    url = options.base_url.rstrip("/") + "/" + options.start.path.lstrip("/")
    assert url == "https://chat.contoso.example/api/chats"
