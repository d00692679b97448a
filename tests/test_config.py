"""Bad configuration gives one ConfigError line naming the file and the key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from svcbench.config import load_config, parse_duration
from svcbench.errors import ConfigError
from svcbench.models import Channel
from svcbench.workspace import Workspace

COMPANY = '''
[[company]]
id = "acme"
name = "Acme"
timezone = "Europe/Berlin"
holidays = { country = "DE", subdiv = "BY" }
special_hours = { 2026-12-24 = ["09:00-12:00"] }

[company.hours]
mon = ["09:00-17:00"]
fri = ["09:00-13:00", "14:00-16:00"]

[company.channels.email]
address = "help@acme.example"
'''

SHOPPER = '''
[[shopper]]
id = "anna"
name = "Anna"
email = "anna@shopper.example"

[shopper.smtp]
host = "127.0.0.1"
port = 2525
password_env = "ANNA_PASSWORD"
'''

SCENARIO = '''
[[scenario]]
id = "shipping"
question = "Do you ship to Norway?"

[[scenario.checks]]
name = "mentions days"
pattern = '(?i)\\bdays?\\b'
'''

CAMPAIGN = '''
[[campaign]]
id = "q4"
companies = ["acme"]
channels = ["email"]
scenarios = ["shipping"]
shopper = "anna"
deadlines = { email = "72h" }
'''

GOOD = {"companies.toml": COMPANY, "shoppers.toml": SHOPPER, "scenarios.toml": SCENARIO,
        "campaigns.toml": CAMPAIGN}


def make_workspace(root: Path, files: dict[str, str], settings: str = "") -> Path:
    (root / "probes").mkdir(parents=True)
    (root / "svcbench.toml").write_text(settings or '[workspace]\nname = "test"\n')
    for name, text in files.items():
        (root / "probes" / name).write_text(text)
    return root


def config_error(root: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(root)
    return info.value


def test_good_config_loads(tmp_path):
    config = load_config(make_workspace(tmp_path, GOOD))
    company = config.companies["acme"]
    assert company.channels[Channel.EMAIL].options == {"address": "help@acme.example"}
    assert config.shoppers["anna"].smtp.password_env == "ANNA_PASSWORD"
    assert config.campaigns["q4"].deadline_for(Channel.EMAIL) == timedelta(hours=72)
    assert config.campaigns["q4"].deadline_for(Channel.CHAT) == timedelta(minutes=20)
    assert config.sources[("company", "acme")].endswith("companies.toml")
    assert config.key_of("campaign", "q4", "companies", 0) == "campaign[0].companies[0]"


# (file to change, old text, new text, expected key, words expected in the message)
BAD = {
    "unknown table": ("campaigns.toml", "[[campaign]]", "[[campain]]", "campain",
                      "unknown table"),
    "table not an array": ("scenarios.toml", SCENARIO, '[scenario]\nid = "x"\n', "scenario",
                           "[[scenario]]"),
    "unknown key": ("companies.toml", 'name = "Acme"', 'name = "Acme"\ncolour = "red"',
                    "company[0].colour", "unknown key"),
    "unknown nested key": ("shoppers.toml", 'port = 2525', 'port = 2525\nhots = "x"',
                           "shopper[0].smtp.hots", "unknown key"),
    "missing key": ("companies.toml", 'name = "Acme"\n', "", "company[0].name",
                    "required key is missing"),
    "missing campaign channels": ("campaigns.toml", 'channels = ["email"]\n', "",
                                  "campaign[0].channels", "required key is missing"),
    "bad slug": ("companies.toml", 'id = "acme"', 'id = "Acme Inc"', "company[0].id",
                 "'Acme Inc' is not a valid id"),
    "bad timezone": ("companies.toml", '"Europe/Berlin"', '"Mars/Olympus"',
                     "company[0].timezone", "Mars/Olympus"),
    "bad interval": ("companies.toml", 'mon = ["09:00-17:00"]', 'mon = ["9-5"]',
                     "company[0].hours.mon[0]", "'9-5' is not an interval"),
    "second bad interval": ("companies.toml", '"14:00-16:00"', '"14:00-14:00"',
                            "company[0].hours.fri[1]", "empty"),
    "unknown weekday": ("companies.toml", 'fri = [', 'fry = [', "company[0].hours.fry",
                        "unknown weekday 'fry'"),
    "bad special hours": ("companies.toml", '["09:00-12:00"]', '["9-12"]',
                          "company[0].special_hours.2026-12-24[0]", "'9-12'"),
    "bad hours change": ("companies.toml", "[company.hours]",
                         'hours_changes = [{ valid_from = 2027-01-01, hours = { tue = ["x"] } }]'
                         "\n[company.hours]", "company[0].hours_changes[0].hours.tue[0]",
                         "'x' is not an interval"),
    "unknown holiday country": ("companies.toml", 'country = "DE"', 'country = "XX"',
                                "company[0].holidays.country", "unknown holiday country 'XX'"),
    "unknown holiday region": ("companies.toml", 'subdiv = "BY"', 'subdiv = "ZZ"',
                               "company[0].holidays.subdiv", "unknown holiday subdivision 'ZZ'"),
    "bad closed date": ("companies.toml", 'timezone =', 'closed_dates = ["2026-13-01"]\ntimezone =',
                        "company[0].closed_dates[0]", "month"),
    "unknown channel": ("companies.toml", "[company.channels.email]", "[company.channels.fax]",
                        "company[0].channels.fax", "unknown value 'fax'"),
    "bad duration": ("campaigns.toml", 'email = "72h"', 'email = "3 days"',
                     "campaign[0].deadlines.email", "'3 days' is not a duration"),
    "negative duration": ("campaigns.toml", 'email = "72h"', 'email = "0h"',
                          "campaign[0].deadlines.email", "positive"),
    "plain smtp password": ("shoppers.toml", 'password_env = "ANNA_PASSWORD"',
                            'password = "hunter2"', "shopper[0].smtp.password",
                            "'password_env'"),
    "plain token in endpoint": ("companies.toml", 'address = "help@acme.example"',
                                'address = "help@acme.example"\napi_key = "k"',
                                "company[0].channels.email.api_key", "'api_key_env'"),
    "unknown company": ("campaigns.toml", 'companies = ["acme"]', 'companies = ["acme", "nope"]',
                        "campaign[0].companies[1]", "unknown company 'nope'"),
    "unknown scenario": ("campaigns.toml", 'scenarios = ["shipping"]', 'scenarios = ["refund"]',
                         "campaign[0].scenarios[0]", "unknown scenario 'refund'"),
    "unknown shopper": ("campaigns.toml", 'shopper = "anna"', 'shopper = "bob"',
                        "campaign[0].shopper", "unknown shopper 'bob'"),
    "bad regex": ("scenarios.toml", "(?i)\\bdays?\\b", "(days", "scenario[0].checks[0].pattern",
                  "invalid regular expression"),
    "bad quarter": ("campaigns.toml", 'id = "q4"', 'id = "q4"\nquarter = "2026Q5"',
                    "campaign[0].quarter", "'2026Q5' does not match"),
}


@pytest.mark.parametrize("case", list(BAD.values()), ids=list(BAD))
def test_bad_input_names_file_and_key(tmp_path, case):
    filename, old, new, key, words = case
    files = dict(GOOD)
    assert old in files[filename], "test setup: text to replace not found"
    files[filename] = files[filename].replace(old, new, 1)
    error = config_error(make_workspace(tmp_path, files))
    assert error.file == str(tmp_path / "probes" / filename)
    assert error.key == key
    assert words in error.problem
    assert "\n" not in str(error)
    assert str(error).startswith(f"{error.file}: {key}: ")


def test_invalid_toml_names_file_and_line(tmp_path):
    files = {**GOOD, "campaigns.toml": "[[campaign]\nid = 'x'\n"}
    error = config_error(make_workspace(tmp_path, files))
    assert error.file.endswith("campaigns.toml")
    assert "invalid TOML" in str(error) and "line 1" in str(error)
    assert "\n" not in str(error)


def test_duplicate_ids_across_files(tmp_path):
    files = {**GOOD, "more.toml": COMPANY.replace('name = "Acme"', 'name = "Acme 2"')}
    error = config_error(make_workspace(tmp_path, files))
    assert error.file.endswith("more.toml")
    assert error.key == "company[0].id"
    assert "duplicate company id 'acme'" in error.problem
    assert "companies.toml" in error.problem  # where the first one is


def test_bad_workspace_file(tmp_path):
    root = make_workspace(tmp_path, GOOD, settings='[workspace]\nnmae = "x"\n')
    error = config_error(root)
    assert error.file == str(root / "svcbench.toml")
    assert error.key == "workspace.nmae"
    root2 = make_workspace(tmp_path / "two", GOOD, settings='[scoring]\nminimum_sample = 0\n')
    assert config_error(root2).key == "scoring.minimum_sample"


def test_plugin_endpoint_errors_name_the_position(tmp_path):
    files = {**GOOD, "companies.toml": COMPANY.replace('address = "help@acme.example"',
                                                       'adress = "help@acme.example"')}
    with pytest.raises(ConfigError) as info:
        Workspace.open(make_workspace(tmp_path, files))
    assert info.value.key.startswith("company[0].channels.email.")


def test_secret_values_never_appear_in_errors(tmp_path):
    files = {**GOOD, "shoppers.toml": SHOPPER.replace('password_env = "ANNA_PASSWORD"',
                                                      'password = "hunter2-secret"')}
    assert "hunter2-secret" not in str(config_error(make_workspace(tmp_path, files)))


@pytest.mark.parametrize(("text", "seconds"), [
    ("90s", 90), ("15m", 900), ("72h", 259200), ("3d", 259200), ("1w", 604800),
    ("1.5h", 5400), (" 30 ", 30), (45, 45), (2.5, 2.5),
])
def test_parse_duration(text, seconds):
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["3 days", "h", "-5m", "0", "", "1y", True])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)


# -- through the real command line ------------------------------------------------------


@pytest.mark.parametrize(("filename", "old", "new", "expected"), [
    ("shoppers.toml", 'password_env = "SVCBENCH_ANNA_PASSWORD"\n\n[shopper.imap]',
     'password = "x"\n\n[shopper.imap]', "shopper[0].smtp.password: secrets are not stored"),
    ("companies.toml", 'fri = ["09:00-17:00"]', 'fri = ["9-5"]', "company[0].hours.fri[0]"),
    ("campaigns.toml", 'scenarios = ["shipping-norway"]', 'scenarios = ["nope"]',
     "campaign[0].scenarios[0]: unknown scenario 'nope'"),
    ("campaigns.toml", "[[campaign]]", "[[campaign]", "invalid TOML"),
], ids=["password", "interval", "scenario", "toml"])
def test_config_check_cli_reports_one_line(workspace_dir, cli, filename, old, new, expected):
    path = workspace_dir / "probes" / filename
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    result = cli("config", "check", cwd=workspace_dir)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("svcbench: error: ")
    assert str(path) in result.stderr
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_config_check_cli_without_workspace(tmp_path, cli):
    result = cli("config", "check", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert "svcbench.toml" in result.stderr
