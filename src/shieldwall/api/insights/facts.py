"""Facts kept inside a stored finding's JSON (KEV, EPSS, CVSS, layer) as SQL expressions, on SQLite and PostgreSQL.

The store keeps prioritisation data (``VulnDetails``: KEV, EPSS, CVSS) and the
introducing layer inside the finding's ``data`` document, copied there from the
advisory database when the finding was matched. These helpers read them in the
database (``json_extract`` on SQLite, ``json`` paths on PostgreSQL, after
removing the escaped NUL that fingerprint material holds and PostgreSQL
refuses) so that counting and grouping never loads documents into Python.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Float, Integer, case, cast, func, literal_column
from sqlalchemy.dialects.postgresql import JSON

from shieldwall.model import Severity
from shieldwall.store.schema import StoredFinding

DEFAULT_HIGH_EPSS = 0.1
"""EPSS at or above this probability counts as "high" unless the caller says otherwise."""


def json_value(dialect: str, *keys: str, data: Any = None) -> ColumnElement[Any]:
    """The value at ``keys`` in the finding's document: text on PostgreSQL, the JSON scalar on SQLite."""
    data = StoredFinding.data if data is None else data
    if dialect == "postgresql":
        # PostgreSQL's JSON processing refuses the escaped NUL that fingerprint material holds: drop it first.
        # Constants are SQL literals (the keys are this module's own), so that the same expression in the
        # select list and in GROUP BY renders the same text.
        nul: ColumnElement[str] = literal_column("'\\u0000'")
        path: ColumnElement[str] = literal_column("'{" + ",".join(keys) + "}'")
        document = cast(func.replace(data, nul, literal_column("''")), JSON)
        value: ColumnElement[Any] = document.op("#>>")(path)
        return value
    return func.json_extract(data, "$." + ".".join(keys))


def kev_flag(dialect: str, data: Any = None) -> ColumnElement[int]:
    """1 when the finding's vulnerability is in CISA's KEV catalogue, else 0.

    A text match, not a JSON parse: the document is ``json.dumps`` output
    (``finding_to_json``), where ``"kev": true`` can only be the key and its value
    (a quote inside a string value is escaped), and matching text is far cheaper
    than parsing every open finding's document.
    """
    del dialect  # the same on every backend
    column = StoredFinding.data if data is None else data
    return case((column.like('%"kev": true%'), 1), else_=0)


def number(dialect: str, *keys: str, data: Any = None) -> ColumnElement[float | None]:
    """A numeric field of the document (NULL when absent or null).

    On PostgreSQL a regular expression on the text (the last key names a field
    that occurs once in a finding's document); parsing the JSON of every row is
    an order of magnitude slower there. SQLite's ``json_extract`` is fast enough.
    """
    if dialect == "postgresql":
        pattern: ColumnElement[str] = literal_column(f"'\"{keys[-1]}\": (-?[0-9.]+(?:[eE][-+]?[0-9]+)?)'")
        return cast(func.substring(StoredFinding.data if data is None else data, pattern), Float)
    value: ColumnElement[float | None] = json_value(dialect, *keys, data=data)
    return value


def epss(dialect: str, data: Any = None) -> ColumnElement[float | None]:
    """The EPSS probability the finding was matched with."""
    return number(dialect, "vuln", "epss_score", data=data)


def cvss(dialect: str, data: Any = None) -> ColumnElement[float | None]:
    """The CVSS base score the finding was matched with."""
    return number(dialect, "vuln", "cvss_score", data=data)


def layer_index(dialect: str) -> ColumnElement[int | None]:
    """The index of the layer that introduced the finding (NULL when not attributed)."""
    value = json_value(dialect, "location", "layer", "index")
    return cast(value, Integer) if dialect == "postgresql" else value


def layer_step(dialect: str) -> ColumnElement[str | None]:
    """The Dockerfile step (``created_by``) of the introducing layer."""
    return json_value(dialect, "location", "layer", "created_by")


def severity_rank() -> ColumnElement[int]:
    """UNKNOWN 0 ... CRITICAL 4 (``Severity.rank``)."""
    return case({str(s): s.rank for s in Severity}, value=StoredFinding.severity, else_=0)


def fixable() -> ColumnElement[bool]:
    """The finding names a version that fixes it."""
    return StoredFinding.fixed_version != ""


def advisory_facts(dialect: str, where: Any) -> Any:
    """A subquery: per rule ID, KEV, EPSS and CVSS as the newest matching finding carries them.

    These are properties of the advisory (the database copies them into every
    finding it matches), so one document per advisory is read instead of one per
    finding: the newest (highest ID), whose values are the most recent. ``where``
    narrows the findings considered (a callable taking and returning a select).
    """
    from sqlalchemy import select
    from sqlalchemy.orm import aliased

    newest = where(
        select(StoredFinding.rule_id.label("rule_id"), func.max(StoredFinding.id).label("rep_id")).group_by(
            StoredFinding.rule_id
        )
    ).subquery("newest")
    rep = aliased(StoredFinding, name="rep")
    return (
        select(
            newest.c.rule_id,
            kev_flag(dialect, rep.data).label("kev"),
            epss(dialect, rep.data).label("epss"),
            cvss(dialect, rep.data).label("cvss"),
        )
        .join(rep, rep.id == newest.c.rep_id)
        .subquery("advisory_facts")
    )
