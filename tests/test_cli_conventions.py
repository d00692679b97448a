"""Conventions every command shares: version, global options, help at 80 columns, plugins,
completion, and the checks `config check` makes before a campaign needs them."""

from __future__ import annotations

import inspect
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
    result = cli(env={"_SVCBENCH_COMPLETE": "complete_bash", "COMP_WORDS": "svcbench repo",
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


@pytest.fixture(scope="module")
def logged(tmp_path_factory):
    from conftest import run_cli
    from svcbench.workspace import init_workspace

    root = init_workspace(tmp_path_factory.mktemp("out") / "ws")
    for day in ("02", "03"):
        done = run_cli("log", "call", "northwind-outfitters", "--at", f"2026-03-{day}T10:15",
                       "--agent-after", "95", cwd=root)
        assert done.returncode == 0, done.stderr
    done = run_cli("log", "return", "northwind-outfitters", "--requested", "2026-03-02T09:00",
                   cwd=root)
    assert done.returncode == 0, done.stderr
    return root


def test_one_output_convention_json_nl_csv_and_files(logged, cli, tmp_path):
    import csv
    import io

    as_json = json.loads(cli("results", "--json", cwd=logged).stdout)
    assert len(as_json) == 2  # the open return has no measurement yet
    nl = cli("results", "--nl", cwd=logged).stdout.splitlines()
    assert [json.loads(line) for line in nl] == as_json
    # -o - is standard output (JSON unless a flag says otherwise); /dev/stdout works too
    assert json.loads(cli("results", "-o", "-", cwd=logged).stdout) == as_json
    assert json.loads(cli("results", "--json", "-o", "/dev/stdout", cwd=logged).stdout) \
        == as_json
    # a file's format follows the flag or its suffix, written whole
    target = tmp_path / "r.csv"
    done = cli("results", "-o", str(target), cwd=logged)
    assert done.returncode == 0 and done.stdout == ""
    rows = list(csv.DictReader(io.StringIO(target.read_text(), newline="")))
    assert [r["probe_id"] for r in rows] == [r["probe_id"] for r in as_json]
    assert json.loads(rows[0]["metrics"]) == as_json[0]["metrics"]
    done = cli("results", "--nl", "-o", str(tmp_path / "r.txt"), cwd=logged)
    assert len((tmp_path / "r.txt").read_text().splitlines()) == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.txt"]  # no temp files
    assert cli("plugins", "--csv").stdout.splitlines()[0] == "group,name,target,package,source"


def test_metrics_db_info_and_config_check_share_the_convention(logged, cli, tmp_path):
    import csv
    import io

    rows = json.loads(cli("metrics", "--json", cwd=logged).stdout)
    samples = {(r["metric"], r["channel"], r["status"], r["outcome"], r["company"]): r["value"]
               for r in rows}
    assert samples[("svcbench_probes", "phone", "done", "answered", None)] == 2
    assert samples[("svcbench_probes", "returns", "running", None, None)] == 1
    assert samples[("svcbench_latest_wait_seconds", "phone", None, None,
                    "northwind-outfitters")] == 95
    prom = cli("metrics", cwd=logged).stdout  # the Prometheus text is unchanged by default
    assert 'svcbench_probes{channel="returns",status="running",outcome=""} 1' in prom
    assert 'svcbench_latest_wait_seconds{company="northwind-outfitters",channel="phone"} ' \
        '95.000' in prom
    nl = [json.loads(line) for line in cli("metrics", "--nl", cwd=logged).stdout.splitlines()]
    assert [r["metric"] for r in nl] == [r["metric"] for r in rows]
    as_csv = list(csv.DictReader(io.StringIO(cli("metrics", "--csv", cwd=logged).stdout)))
    assert list(as_csv[0]) == ["metric", "channel", "status", "outcome", "company", "value"]
    assert len(as_csv) == len(rows)
    done = cli("metrics", "-o", str(tmp_path / "m.jsonl"), cwd=logged)
    assert done.returncode == 0 and done.stdout == ""
    assert len((tmp_path / "m.jsonl").read_text().splitlines()) == len(rows)

    info = json.loads(cli("db", "info", "--json", cwd=logged).stdout)
    tables = list(csv.DictReader(io.StringIO(cli("db", "info", "--csv", cwd=logged).stdout)))
    assert {r["table"]: int(r["rows"]) for r in tables} == info["tables"]
    assert info["tables"]["probes"] == 3
    assert json.loads(cli("db", "info", "-o", "-", cwd=logged).stdout) == info

    env = {"SVCBENCH_ANNA_PASSWORD": "x"}
    checks = [json.loads(line) for line in
              cli("config", "check", "--nl", cwd=logged, env=env).stdout.splitlines()]
    assert {(r["check"], r["target"].rsplit(".", 2)[-2], r["ok"]) for r in checks} == \
        {("secret", "smtp", True), ("secret", "imap", True)}
    done = cli("config", "check", "-o", str(tmp_path / "check.json"), cwd=logged, env=env)
    assert done.returncode == 0 and json.loads((tmp_path / "check.json").read_text())["ok"]

    empty = cli("chat", "availability", "--csv", "-q", "2026Q1", cwd=logged)
    assert empty.returncode == 0, empty.stderr
    assert empty.stdout.splitlines() == [
        "quarter,company,name,checks,online,offline,unknown,outside_hours,share_available,"
        "chats,with_promise,kept,broken,open,share_kept,availability_source,promise_source"]


@pytest.mark.parametrize("args,message", [
    (["--json", "--csv"], "--json and --csv cannot be combined"),
    (["-o", "results.txt"], "--output: results.txt: say --json, --csv or --nl"),
    (["-o", "."], "--output: . is a directory"),
])
def test_output_mistakes_are_one_line(logged, cli, args, message):
    done = cli("results", *args, cwd=logged)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and message in done.stderr


#: the commands that print rows (or one document with rows): each takes the whole convention
DATA_COMMANDS = [("chat", "availability"), ("config", "check"), ("db", "batches"), ("db", "info"),
                 ("grade", "stats"), ("log", "open"), ("metrics",), ("plugins",), ("probes",),
                 ("replies", "list"), ("report",), ("results",)]
CONVENTION = {"--json", "--csv", "--nl", "-o", "--output", "--raw-csv"}


def _options(path):
    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    return {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)}


def test_every_data_printing_command_takes_the_whole_output_convention():
    printing = {path for path in ALL_COMMANDS if _options(path) & {"--csv", "--nl"}}
    assert printing == set(DATA_COMMANDS)  # a new one is listed here, so it is checked below
    for path in DATA_COMMANDS:
        assert _options(path) >= CONVENTION, path
        # flag mistakes are read before anything else, as for every command
        done = CliRunner().invoke(app, [*path, "--json", "--nl"])
        assert done.exit_code == 2, (path, done.output)
        assert done.stderr == "svcbench: error: --json and --nl cannot be combined\n"


@pytest.mark.parametrize("command", DATA_COMMANDS, ids=" ".join)
def test_every_data_printing_command_writes_the_same_rows_as_nl_and_csv(command, logged,
                                                                         tmp_path):
    import csv
    import io

    quarter = ["-q", "2026Q1"] if command in (("report",), ("chat", "availability")) else []
    env = {"SVCBENCH_WORKSPACE": str(logged), "SVCBENCH_ANNA_PASSWORD": "x"}
    target = tmp_path / "out.jsonl"
    done = CliRunner().invoke(app, [*command, *quarter, "--nl", "-o", str(target)], env=env)
    assert done.exit_code == 0, done.output
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert all(isinstance(line, dict) for line in lines)
    done = CliRunner().invoke(app, [*command, *quarter, "--csv", "--raw-csv"], env=env)
    assert done.exit_code == 0, done.output
    rows = list(csv.reader(io.StringIO(done.stdout, newline="")))
    assert len(rows) == 1 + len(lines)  # a header, then the same rows
    assert not lines or rows[0] == list(lines[0])


def test_a_group_reads_its_output_flags_only_when_it_lists(workspace_dir, cli):
    # a workspace of its own: 'probes run' plans the campaigns first
    done = cli("probes", "--json", "--csv", "run", "nope", cwd=workspace_dir)
    assert done.returncode == 2
    assert done.stderr.startswith("svcbench: error: --probe: no probe 'nope'")


def test_output_options_stands_in_for_the_one_output_parameter():
    from svcbench.cli._output import Output, output_options

    def listing(limit: int = 3, out: Output = Output(), workspace: str | None = None):
        return limit, out, workspace

    wrapped = output_options(listing)
    assert list(inspect.signature(wrapped).parameters) == [
        "limit", "as_json", "as_csv", "as_nl", "output", "raw_csv", "workspace"]
    assert wrapped(limit=1, as_csv=True, output="-", raw_csv=True, workspace=None) == (
        1, Output("csv", "-", True), None)
    with pytest.raises(TypeError, match="needs a parameter 'out: Output'"):
        output_options(lambda limit=3: limit)
    with pytest.raises(TypeError, match="adds as_json"):
        output_options(lambda as_json=False, out=Output(): out)


@pytest.mark.parametrize("args", [
    ["report", "-q", "2026Q5"], ["grade", "stats", "-q", "2026Q5"],
    ["grade", "-r", "anna", "-q", "2026Q5"], ["chat", "availability", "-q", "2026Q5"],
    ["simulate", "--end-quarter", "2026Q5"],
], ids=" ".join)
def test_a_bad_quarter_is_the_same_one_line_everywhere(args, workspace_dir):
    done = CliRunner().invoke(app, args, env={"SVCBENCH_WORKSPACE": str(workspace_dir)})
    assert done.exit_code == 2, done.output
    option = "--end-quarter" if args[0] == "simulate" else "--quarter"
    assert done.stderr == f"svcbench: error: {option}: '2026Q5' is not a quarter like 2026Q4\n"


def test_log_open_shows_local_times_with_their_zone(logged, cli):
    [row] = json.loads(cli("log", "open", "--json", cwd=logged).stdout)
    assert row["timezone"] == "Europe/Berlin"
    assert row["started_local"].startswith("2026-03-02T09:00:00+01:00")
    assert row["started_at"].startswith("2026-03-02T08:00:00")
    assert "since 2026-03-02 09:00 Europe/Berlin" in cli("log", "open", cwd=logged).stdout


def test_short_flags_are_the_same_everywhere(logged, cli):
    [phone] = {r["channel"] for r in json.loads(
        cli("results", "-c", "phone", "-q", "2026Q1", "--json", cwd=logged).stdout)}
    assert phone == "phone"
    # a channel or status is read the same way by every filter: in any case
    assert [r["channel"] for r in json.loads(
        cli("probes", "-c", "PHONE", "--status", "Done", "--json", cwd=logged).stdout)] \
        == ["phone", "phone"]


def test_tables_fit_80_columns_and_say_what_they_left_out(logged, cli):
    done = cli("results", cwd=logged, env={"COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "Northwind Outfitters" in done.stdout  # names are never cut short
    assert "left out at 80 columns:" in " ".join(done.stdout.split())
    wide = cli("results", cwd=logged, env={"COLUMNS": "200"})
    assert "left out" not in wide.stdout


def test_duration_columns_use_one_unit():
    from svcbench.render import column_durations

    assert column_durations([140400, 160000, None]) == ["39.0 h", "44.4 h", "no answer"]
    assert column_durations([140400, 181440, 200000]) == ["1.6 d", "2.1 d", "2.3 d"]
    assert column_durations([30, 45, 200]) == ["30 s", "45 s", "200 s"]
    assert {v.split()[1] for v in column_durations([60, 600, 6000])} == {"min"}


def test_report_to_standard_output_or_one_file(logged, cli, tmp_path):
    done = cli("report", "-q", "2026Q1", "-f", "json", "-o", "-", cwd=logged)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["quarter"] == "2026Q1" and not (logged / "-").exists()
    done = cli("report", "-q", "2026Q1", "-f", "json", "-o", "/dev/stdout", cwd=logged)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["quarter"] == "2026Q1"
    target = tmp_path / "phone.csv"
    done = cli("report", "-q", "2026Q1", "-f", "csv", "-o", str(target), cwd=logged)
    assert done.returncode == 0, done.stderr
    assert target.read_text().startswith("quarter,channel,rank")
    done = cli("report", "-q", "2026Q1", "-f", "html", "-o", str(tmp_path / "r.json"),
               cwd=logged)
    assert done.returncode == 2 and "the name says json but --format is html" in done.stderr
    done = cli("report", "-q", "2026Q1", "-f", "json", "-f", "html", "-o", "-", cwd=logged)
    assert done.returncode == 2 and "exactly one --format" in done.stderr


def test_report_follows_the_convention_of_every_command(logged, cli, tmp_path):
    import csv
    import io

    as_json = cli("report", "-q", "2026Q1", "--json", cwd=logged)
    assert as_json.returncode == 0, as_json.stderr
    generated = json.loads(as_json.stdout).pop("generated_at")  # the only difference
    assert json.loads(as_json.stdout) == {**json.loads(cli(
        "report", "-q", "2026Q1", "-f", "json", "-o", "-", cwd=logged).stdout),
        "generated_at": generated}
    rows = list(csv.DictReader(io.StringIO(cli("report", "-q", "2026Q1", "--csv",
                                               cwd=logged).stdout)))
    lines = [json.loads(line) for line in cli("report", "-q", "2026Q1", "--nl",
                                              cwd=logged).stdout.splitlines()]
    assert rows and [r["company"] for r in rows] == [r["company"] for r in lines]
    assert {r["channel"] for r in lines} == {c["channel"] for c in json.loads(
        as_json.stdout)["channels"]}
    target = tmp_path / "ranks.jsonl"
    assert cli("report", "-q", "2026Q1", "--nl", "-o", str(target), cwd=logged).returncode == 0
    assert [json.loads(line) for line in target.read_text().splitlines()] == lines
    done = cli("report", "-q", "2026Q1", "--json", "--csv", cwd=logged)
    assert done.returncode == 2 and "--json and --csv cannot be combined" in done.stderr
    done = cli("report", "-q", "2026Q1", "--json", "-f", "html", cwd=logged)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    done = cli("report", "-q", "2026Q1", "--json", "-o", str(tmp_path), cwd=logged)
    assert done.returncode == 2 and "is a directory" in done.stderr


def test_probes_and_schedule_follow_the_convention(logged, cli):
    import csv
    import io

    done = cli("probes", "--csv", "-c", "phone", cwd=logged)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert len(rows) == 2 and {r["channel"] for r in rows} == {"phone"}
    assert [json.loads(line)["id"] for line in cli("probes", "--nl", "-c", "phone",
                                                    cwd=logged).stdout.splitlines()] \
        == [r["id"] for r in rows]
    done = cli("schedule", "--json", cwd=logged)
    plan = json.loads(done.stdout)
    assert plan["variables"] == ["SVCBENCH_ANNA_PASSWORD"]
    assert plan["crontab"].startswith(f"*/5 * * * * . {logged / '.svcbench.env'} && ")
    text = cli("schedule", cwd=logged).stdout
    assert "cron passes no login environment" in text and "SVCBENCH_ANNA_PASSWORD" in text


def test_argument_mistakes_exit_2_as_documented(logged, cli, tmp_path):
    done = cli("db", "merge", str(tmp_path / "nothere.db"), cwd=logged)
    assert done.returncode == 2 and done.stderr.count("\n") == 1
    assert "does not exist" in done.stderr
    done = cli("plan", "-c", "retail-q4", cwd=logged)  # -c is a channel everywhere else
    assert done.returncode == 2
