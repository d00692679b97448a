"""Bad input and broken storage: one line naming the file or option, exit 2 or 3, never 70
(issue 12, items 6 and 7). Read-only commands work on a read-only filesystem."""

from __future__ import annotations

import pytest

from loopfs import LoopFS, loop_unavailable
from svcbench.workspace import init_workspace

needs_loop = pytest.mark.skipif(loop_unavailable() is not None,
                                reason=loop_unavailable() or "")

PHONE_CSV = "company,dialed_at,agent_answered_after_s\nnorthwind-outfitters,{when},{after}\n"


def one_line(result, code: int, *words: str) -> None:
    assert result.returncode == code, (result.returncode, result.stderr)
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert "internal error" not in result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_metrics_textfile_that_is_a_directory(workspace_dir, cli):
    one_line(cli("metrics", "--textfile", ".", "-w", str(workspace_dir), cwd=workspace_dir),
             2, "--textfile", "directory")


def test_init_on_an_existing_file(tmp_path, cli):
    (tmp_path / "afile").write_text("x")
    one_line(cli("init", str(tmp_path / "afile")), 2, "afile", "not a directory")


def test_tick_log_file_that_is_a_directory(workspace_dir, cli):
    one_line(cli("tick", "--log-file", ".", "-w", str(workspace_dir), cwd=workspace_dir),
             2, "--log-file", "directory")


def test_deeply_nested_toml(workspace_dir, cli):
    (workspace_dir / "probes" / "deep.toml").write_text(
        "a = " + "{b = " * 5000 + "1" + "}" * 5000 + "\n")
    one_line(cli("config", "check", "-w", str(workspace_dir)), 2, "deep.toml",
             "nested too deeply")


@pytest.mark.parametrize(("when", "after", "column"), [
    ("0001-01-01", "10", "dialed_at"),
    ("9999-12-31T23:59", "10", "dialed_at"),
    ("2026-11-02T10:00", "99999999999999999999", "agent_answered_after_s"),
])
def test_csv_dates_and_durations_out_of_range_are_bad_rows(workspace_dir, cli, when, after,
                                                           column):
    path = workspace_dir / "calls.csv"
    path.write_text(PHONE_CSV.format(when=when, after=after)
                    + "northwind-outfitters,2026-11-02T10:00,30\n")
    result = cli("import", "csv", str(path), "--channel", "phone", "-w", str(workspace_dir))
    assert result.returncode == 2, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    assert f"line 2, column {column}" in result.stderr
    assert "imported 1, rejected 1" in result.stdout  # the good row is kept


def test_config_duration_too_long(workspace_dir, cli):
    path = workspace_dir / "probes" / "campaigns.toml"
    path.write_text(path.read_text().replace('email = "72h"', 'email = "99999999999999999999"'))
    one_line(cli("config", "check", "-w", str(workspace_dir)), 2, "campaigns.toml",
             "too long")


@needs_loop
def test_read_only_filesystem_reads_work_and_writes_fail_cleanly(tmp_path, cli):
    with LoopFS(tmp_path / "disk.img", size_mb=32) as fs:
        root = init_workspace(fs.mount / "ws")
        (root / "calls.csv").write_text(PHONE_CSV.format(when="2026-11-02T10:00", after="42"))
        assert cli("import", "csv", str(root / "calls.csv"), "--channel", "phone",
                   "-w", str(root)).returncode == 0
        text = (root / "svcbench.toml").read_text()
        (root / "svcbench.toml").write_text(
            text.replace("[workspace]", '[workspace]\nlog_file = "svcbench.log"', 1))
        fs.remount(read_only=True)
        try:
            for args in (["results", "--json"], ["probes", "--json"], ["metrics"],
                         ["report", "--format", "table"]):
                result = cli(*args, "-w", str(root))
                assert result.returncode == 0, (args, result.stderr)
                assert "northwind" in result.stdout.lower(), args
            # writing commands: one clear line, exit 3 (log_file set: the first write)
            one_line(cli("tick", "-w", str(root)), 3, "read-only")
            one_line(cli("report", "--format", "html", "-w", str(root)), 3)
        finally:
            fs.remount(read_only=False)


@needs_loop
def test_disk_full_while_writing_the_lock_file(tmp_path, cli):
    with LoopFS(tmp_path / "disk.img", size_mb=16) as fs:
        root = init_workspace(fs.mount / "ws", examples=False)
        fs.fill()
        one_line(cli("tick", "-w", str(root)), 3, ".svcbench.lock", "disk full")
