"""Campaign plans: spread over the quarter, some out of hours, deterministic, idempotent."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from svcbench.config import load_config
from svcbench.hours import from_micros, micros
from svcbench.models import format_instant, format_micros
from svcbench.planning import plan_all, plan_campaign, previous_quarter, quarter_bounds


def test_quarter_bounds_and_previous():
    assert quarter_bounds("2026Q4") == (datetime(2026, 10, 1, tzinfo=UTC),
                                        datetime(2027, 1, 1, tzinfo=UTC))
    assert previous_quarter("2026Q1") == "2025Q4"
    for bad in ("2026Q5", "2026-Q4", "26Q1", ""):
        with pytest.raises(ValueError, match="quarter like"):
            quarter_bounds(bad)


def test_plan_spreads_probes_over_the_quarter_with_out_of_hours_share(workspace_dir):
    config = load_config(workspace_dir)
    campaign = config.campaigns["retail-q4"]
    companies = config.campaign_companies(campaign)
    assert {c.id for c in companies} == {"northwind-outfitters", "fabrikam-home"}
    plan = plan_campaign(campaign, companies, "2026Q4")
    start, end = quarter_bounds("2026Q4")
    n = campaign.probes_per_quarter
    # fabrikam has no email endpoint: only its phone is probed
    assert len(plan) == n * 3
    for company in companies:
        for channel in campaign.channels:
            mine = sorted((p for p in plan if p.company == company.id and p.channel == channel),
                          key=lambda p: p.index)
            if channel not in company.channels:
                assert not mine
                continue
            slot = (end - start) / n
            for p in mine:  # one probe in each equal slot of the quarter
                assert start + slot * p.index <= p.due_at < start + slot * (p.index + 1)
                assert p.deadline_at - p.due_at == campaign.deadline_for(channel)
                assert p.out_of_hours == (not company.calendar().is_open(p.due_at))
            assert sum(p.out_of_hours for p in mine) == round(n * campaign.out_of_hours_share)


def test_plan_is_deterministic_and_ids_are_stable(workspace_dir):
    config = load_config(workspace_dir)
    campaign = config.campaigns["retail-q4"]
    companies = config.campaign_companies(campaign)
    first = plan_campaign(campaign, companies, "2026Q4")
    again = plan_campaign(campaign, companies, "2026Q4")
    assert [(p.id, p.due_at) for p in first] == [(p.id, p.due_at) for p in again]
    other_seed = plan_campaign(campaign.model_copy(update={"seed": 8}), companies, "2026Q4")
    assert [p.due_at for p in other_seed] != [p.due_at for p in first]


def test_planning_mid_quarter_puts_nothing_in_the_past(workspace_dir):
    config = load_config(workspace_dir)
    now = datetime(2026, 11, 23, 12, tzinfo=UTC)
    probes = plan_all(config, now)
    assert probes and all(p.due_at >= now for p in probes)


def test_plan_command_is_idempotent(workspace_dir, cli):
    first = cli("plan", "--json", cwd=workspace_dir)
    assert first.returncode == 0, first.stderr
    again = cli("plan", "--json", cwd=workspace_dir)
    assert '"added": 0' in again.stdout
    assert '"added": 0' not in first.stdout
    listed = cli("probes", "--status", "planned", "--json", cwd=workspace_dir)
    assert listed.stdout.count('"status": "planned"') == first.stdout.count('"scenario"')
    bad = cli("plan", "--quarter", "2026Q9", cwd=workspace_dir)
    assert bad.returncode == 2 and "quarter like" in bad.stderr
    bad = cli("plan", "--campaign", "nope", cwd=workspace_dir)
    assert bad.returncode == 2 and "unknown campaign 'nope'" in bad.stderr


def test_schedule_prints_crontab_and_systemd_units(workspace_dir, cli):
    result = cli("schedule", "--every", "10", cwd=workspace_dir)
    assert result.returncode == 0, result.stderr
    assert "*/10 * * * *" in result.stdout and "tick --workspace" in result.stdout
    assert "OnCalendar=*:0/10" in result.stdout and str(workspace_dir) in result.stdout


def test_plan_ids_are_uuid5_of_the_plan_key():
    import uuid

    from svcbench.planning import _PLAN_NAMESPACE, plan_id

    for key in ("retail-q4/northwind-outfitters/email/2026Q4/0", "c/ü/chat/2027Q1/59", ""):
        assert plan_id(key) == str(uuid.uuid5(_PLAN_NAMESPACE, key))


def test_tokens_drawn_at_once_are_tokens_like_any_other():
    from svcbench.planning import _TOKEN_ALPHABET, new_token, new_tokens

    tokens = new_tokens(4001)
    assert len(tokens) == 4001 and len(set(tokens)) == 4001
    assert all(len(t) == 10 and set(t) <= set(_TOKEN_ALPHABET) for t in [*tokens, new_token()])
    # every character of the alphabet turns up in every position
    assert all({t[i] for t in tokens} == set(_TOKEN_ALPHABET) for i in range(10))
    assert new_tokens(0) == []


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)))
def test_format_micros_is_format_instant_of_that_instant(naive):
    instant = naive.replace(tzinfo=UTC)
    assert format_micros(micros(instant)) == format_instant(instant)
    assert format_micros(micros(instant)) == format_instant(from_micros(micros(instant)))
