"""The per-user config cache: a hit only while every input is byte-for-byte the same."""

from __future__ import annotations

import os

import pytest

from svcbench import config_cache
from svcbench.errors import ConfigError
from svcbench.workspace import Workspace, load_validated


@pytest.fixture
def counted(monkeypatch, tmp_path):
    monkeypatch.setenv("SVCBENCH_CACHE_DIR", str(tmp_path / "cache"))
    loads = []

    def open_ws(root):
        def load(r):
            loads.append(r)
            return load_validated(r)
        return config_cache.load_cached(root, load)
    return open_ws, loads


def test_unchanged_files_are_a_hit_and_any_edit_or_new_file_a_miss(workspace_dir, counted):
    open_ws, loads = counted
    first = open_ws(workspace_dir)
    again = open_ws(workspace_dir)
    assert len(loads) == 1 and again == first
    assert again.companies["northwind-outfitters"].calendar() == \
        first.companies["northwind-outfitters"].calendar()
    companies = workspace_dir / "probes" / "companies.toml"
    companies.write_text(companies.read_text().replace('name = "Northwind Outfitters"',
                                                       'name = "Northwind Outfitter"'))
    edited = open_ws(workspace_dir)
    assert len(loads) == 2 and edited.companies["northwind-outfitters"].name == \
        "Northwind Outfitter"
    (workspace_dir / "probes" / "more.toml").write_text(
        '[[scenario]]\nid = "extra"\nquestion = "Hello?"\n')
    assert "extra" in open_ws(workspace_dir).scenarios and len(loads) == 3
    assert open_ws(workspace_dir).scenarios.keys() == edited.scenarios.keys() | {"extra"}
    assert len(loads) == 3


def test_errors_are_never_cached(workspace_dir, counted):
    open_ws, loads = counted
    open_ws(workspace_dir)
    path = workspace_dir / "probes" / "campaigns.toml"
    good = path.read_text()
    path.write_text(good.replace("seed = 7", 'seed = "x"'))
    for _ in range(2):
        with pytest.raises(ConfigError, match="seed"):
            open_ws(workspace_dir)
    path.write_text(good)
    assert open_ws(workspace_dir).campaigns["retail-q4"].seed == 7
    assert len(loads) == 3  # the same bytes as the first load: a hit again


def test_an_entry_others_can_write_is_ignored_and_the_cache_can_be_off(workspace_dir, counted,
                                                                        monkeypatch):
    open_ws, loads = counted
    open_ws(workspace_dir)
    (entry,) = (p for p in config_cache.cache_dir().iterdir() if p.suffix == ".pickle")
    os.chmod(entry, 0o666)
    open_ws(workspace_dir)
    assert len(loads) == 2
    monkeypatch.setenv("SVCBENCH_CACHE_DIR", "off")
    open_ws(workspace_dir)
    open_ws(workspace_dir)
    assert len(loads) == 4


def test_workspace_open_uses_the_cache(workspace_dir, monkeypatch, tmp_path):
    monkeypatch.setenv("SVCBENCH_CACHE_DIR", str(tmp_path / "cache"))
    Workspace.open(workspace_dir).close()
    monkeypatch.setattr("svcbench.workspace.load_config", lambda root: pytest.fail("parsed"))
    ws = Workspace.open(workspace_dir)
    assert "retail-q4" in ws.config.campaigns
    ws.close()


def test_changed_svcbench_code_is_a_miss(workspace_dir, counted):
    from pathlib import Path

    open_ws, loads = counted
    open_ws(workspace_dir)
    module = Path(config_cache.__file__)
    info = module.stat()
    try:
        os.utime(module, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000_000))
        open_ws(workspace_dir)
    finally:
        os.utime(module, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert len(loads) == 2
