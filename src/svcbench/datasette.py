"""The database as an analyst sees it in Datasette: views with names instead of slugs, a
metadata document that describes the analyst tables and hides svcbench's internal ones.

``svcbench datasette-metadata > metadata.json`` then ``datasette svcbench.db -m metadata.json``.
"""

from __future__ import annotations

import sqlite3
from typing import Any

#: svcbench's own bookkeeping: derived caches, sync positions, migrations
INTERNAL_TABLES = ("_svcbench_migrations", "measurement_columns", "measurement_slices",
                   "cursors", "meta", "plan_inputs",
                   "sqlite_stat1", "sqlite_sequence")

#: analyst views, created by migration (see ``store/_migrations.py``); each is one SELECT
VIEWS: dict[str, tuple[str, str]] = {
    "probe_results": (
        "One row per probe: the company's name, channel, outcome and waits (raw and in "
        "business hours, seconds), where the data came from (source, region, merge batch).",
        """
        SELECT p.id AS probe_id, c.name AS company_name, p.company, p.channel, p.campaign,
               p.scenario, p.shopper, p.status, p.outcome, p.outcome_reason,
               p.started_at, p.finished_at, m.quarter, m.wait_s, m.wait_bh_s,
               m.first_response_s, m.first_response_bh_s, m.answered_by_human,
               p.source, p.region, p.merge_batch
        FROM probes p
        LEFT JOIN companies c ON c.slug = p.company
        LEFT JOIN measurements m ON m.probe_id = p.id
        """,
    ),
    "replies": (
        "Every message in and out, with the company's name: email replies (their class) and "
        "chat transcripts.",
        """
        SELECT g.id AS message_id, g.probe_id, c.name AS company_name, p.company, g.channel,
               g.direction, g.actor, g.at, g.subject, g.classification, g.match_method,
               g.text
        FROM messages g
        JOIN probes p ON p.id = g.probe_id
        LEFT JOIN companies c ON c.slug = p.company
        """,
    ),
    "company_channel_quarters": (
        "Per company, channel and quarter: probes counted, answered, answered by a person and "
        "the median-free averages an analyst starts from (the report has medians and ranks).",
        """
        SELECT m.quarter, m.channel, m.company, c.name AS company_name, COUNT(*) AS probes,
               SUM(m.outcome IN ('answered', 'answered_auto_only')) AS responded,
               SUM(m.answered_by_human) AS answered_by_human,
               AVG(m.wait_s) AS mean_wait_s, AVG(m.wait_bh_s) AS mean_wait_bh_s
        FROM measurements m
        LEFT JOIN companies c ON c.slug = m.company
        WHERE m.outcome IN ('answered', 'answered_auto_only', 'unanswered', 'abandoned',
                            'unavailable')
        GROUP BY m.quarter, m.channel, m.company
        """,
    ),
}

_TABLES: dict[str, tuple[str, dict[str, str]]] = {
    "probes": ("One row per mystery-shopping interaction.", {
        "company": "the company's id (slug); its name is in companies.name",
        "status": "planned, starting, running or done",
        "outcome": "answered, answered_auto_only, unanswered, abandoned, unavailable, failed "
                   "(our side), blocked (needs a person), cancelled",
        "source": "where the probe came from: live, manual, csv, merge, simulated",
        "token": "the random token that matches replies to this probe",
        "state": "the probe plugin's working state (JSON; never secrets)",
    }),
    "events": ("The facts probes observed, each with its instant and the instant's source.", {
        "kind": "what happened: email.sent, email.received, chat.agent_joined, call.dialed, ...",
        "source": "where the timestamp came from: smtp, imap.internaldate, local, server, "
                  "manual",
    }),
    "measurements": ("Numbers derived from each probe's events (recomputed when rules "
                     "improve).", {
        "wait_s": "the channel's headline wait in seconds (to a person, the refund, ...)",
        "wait_bh_s": "the same in the company's business hours",
        "first_response_s": "to any response (auto-acknowledgement, bot, IVR)",
        "quarter": "in the company's local time",
    }),
    "messages": ("Email replies and chat transcript lines.", {}),
    "companies": ("The companies, synced from the configuration (and merged files).", {}),
    "campaigns": ("The campaigns, synced from the configuration.", {}),
    "grades": ("Answer checks per probe.", {}),
    "quality_grades": ("Answer-quality grades: one row per probe, grader (a person, a model or "
                       "the answer key) and rubric item.", {}),
    "merge_batches": ("Other shoppers' databases merged in (`svcbench db merge`), each "
                      "removable with `svcbench db unmerge`.", {}),
}


def metadata(conn: sqlite3.Connection, *, database: str = "svcbench") -> dict[str, Any]:
    """A Datasette metadata document for the database behind ``conn``."""
    present = {name for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
    tables: dict[str, Any] = {}
    for name in sorted(present):
        if name in INTERNAL_TABLES or name.startswith(("_", "sqlite_")):
            tables[name] = {"hidden": True}
        elif name in VIEWS:
            tables[name] = {"description": VIEWS[name][0]}
        elif name in _TABLES:
            description, columns = _TABLES[name]
            tables[name] = {"description": description,
                            **({"columns": columns} if columns else {})}
    if "companies" in tables:
        tables["companies"]["label_column"] = "name"
    return {
        "title": "svcbench results",
        "description": "Customer-service mystery-shopping probes and their measurements. "
                       "Start with the probe_results view.",
        "databases": {database: {"tables": tables}},
    }


def create_views(conn: sqlite3.Connection) -> None:
    """(Re)create the analyst views; called by a migration and whenever columns change."""
    for name, (_, select) in VIEWS.items():
        conn.execute(f"DROP VIEW IF EXISTS {name}")
        conn.execute(f"CREATE VIEW {name} AS {select}")
