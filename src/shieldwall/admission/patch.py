"""The mutating mode: a JSONPatch that pins each tag the store resolved to the digest it scanned."""

from __future__ import annotations

import json

from shieldwall.admission.service import Evaluation


def pin_digests_patch(evaluation: Evaluation) -> bytes | None:
    """``replace`` operations turning ``repo:tag`` into ``repo:tag@digest`` for scanned images; None when none."""
    operations: list[dict[str, str]] = []
    for container in evaluation.images:
        facts = evaluation.facts.get(container.image)
        if facts is None or facts.reference is None or facts.reference.digest or not facts.scanned:
            continue
        if not facts.digest.startswith(("sha256:", "sha512:")):
            continue
        operations.append({"op": "replace", "path": container.pointer, "value": f"{container.image}@{facts.digest}"})
    return json.dumps(operations).encode() if operations else None
