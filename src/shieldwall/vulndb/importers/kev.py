"""CISA Known Exploited Vulnerabilities: the catalogue's JSON (``vulnerabilities[]``) or its CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping

from shieldwall.errors import CorruptInputError
from shieldwall.vulndb.model import KevEntry

MAX_KEV_BYTES = 64 * 1024 * 1024

_FIELDS = {
    "vendor": "vendorProject",
    "product": "product",
    "name": "vulnerabilityName",
    "date_added": "dateAdded",
    "due_date": "dueDate",
    "known_ransomware": "knownRansomwareCampaignUse",
    "short_description": "shortDescription",
    "required_action": "requiredAction",
    "notes": "notes",
}


def _entry(row: Mapping[str, object], name: str) -> KevEntry | None:
    cve = str(row.get("cveID") or "").strip().upper()
    if not cve:
        return None
    if not cve.startswith("CVE-"):
        raise CorruptInputError(f"{name}: {cve!r} is not a CVE id")
    values = {field: str(row.get(key) or "").strip() for field, key in _FIELDS.items()}
    return KevEntry(cve_id=cve, **values)


def parse_kev(data: bytes, name: str) -> list[KevEntry]:
    """Read the KEV catalogue from JSON (``{"vulnerabilities": [...]}``) or CSV (header ``cveID,...``)."""
    if len(data) > MAX_KEV_BYTES:
        raise CorruptInputError(f"{name}: {len(data)} bytes is above the {MAX_KEV_BYTES}-byte KEV limit")
    text = data.decode("utf-8-sig", errors="replace")
    stripped = text.lstrip()
    rows: list[Mapping[str, object]]
    if stripped.startswith("{"):
        try:
            doc = json.loads(stripped)
        except (ValueError, RecursionError) as exc:
            raise CorruptInputError(f"{name}: not valid KEV JSON: {exc}") from None
        vulns = doc.get("vulnerabilities") if isinstance(doc, Mapping) else None
        if not isinstance(vulns, list) or not all(isinstance(v, Mapping) for v in vulns):
            raise CorruptInputError(f"{name}: KEV JSON needs a vulnerabilities[] list of objects")
        rows = vulns
    else:
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames or "cveID" not in reader.fieldnames:
            raise CorruptInputError(f"{name}: KEV CSV needs a cveID column")
        rows = list(reader)
    out = [e for e in (_entry(r, name) for r in rows) if e is not None]
    return out
