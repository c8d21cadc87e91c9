"""The old generated secrets corpus (benchmarks/secrets/corpus.py), kept as a unit test of the rules.

Its secrets and decoys were written together with the rules, so it measures
nothing a reader should quote (the honest benchmark is
benchmarks/secrets/honest.py); as a regression test it still catches a rule
that stops matching a format it matched before, or starts matching decoys.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from shieldwall.model import FindingKind
from shieldwall.service.scan import ScanOptions, scan_target

CORPUS = Path(__file__).resolve().parents[4] / "benchmarks" / "secrets" / "corpus.py"


@pytest.mark.slow
def test_generated_corpus_recall_and_decoys(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("secrets_corpus", CORPUS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["secrets_corpus"] = module
    try:
        spec.loader.exec_module(module)
        module.build(tmp_path / "corpus", seed=11, files=80)
    finally:
        sys.modules.pop("secrets_corpus", None)
    root = tmp_path / "corpus"
    labels = json.loads((root / "labels.json").read_text())
    result = scan_target(f"dir:{root / 'tree'}", ScanOptions(scanners=frozenset({"secret"}), use_cache=False))
    found = {
        (f.location.path.lstrip("/"), f.location.line or 0)
        for f in result.findings
        if f.kind is FindingKind.SECRET and f.active and f.location is not None
    }
    secrets = [lab for lab in labels if lab["label"] == "secret"]
    hit = [lab for lab in secrets if any(p == lab["file"] and lab["line"] <= n <= lab["end_line"] for p, n in found)]
    decoy_hits = [
        (p, n)
        for p, n in found
        if any(lab["label"] == "decoy" and p == lab["file"] and lab["line"] <= n <= lab["end_line"] for lab in labels)
    ]
    missed = sorted({lab["kind"] for lab in secrets if lab not in hit})
    recall = len(hit) / len(secrets)
    print(f"generated corpus: {len(hit)}/{len(secrets)} planted secrets found, {len(decoy_hits)} decoys hit; {missed=}")
    # PGP and PuTTY blocks of this corpus are random bytes in a well-formed frame: PGP ones no longer count
    # as private keys (they do not decode to a secret-key packet); every other kind must still be found.
    assert set(missed) <= {"private-key-pgp"}, missed
    assert recall >= 0.97
    assert decoy_hits == []
