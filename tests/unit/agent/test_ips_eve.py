"""eve.json reading (bounded, resumable) and eve records -> agent events."""

from __future__ import annotations

import json
from pathlib import Path

from shieldwall.agent.modules.ips.alerts import to_event
from shieldwall.agent.modules.ips.eve import EveReader
from shieldwall.model.finding import Severity

ALERT = {
    "timestamp": "2026-12-07T22:00:36.123456+0000",
    "flow_id": 42,
    "event_type": "alert",
    "src_ip": "10.232.1.2",
    "src_port": 40000,
    "dest_ip": "10.232.2.2",
    "dest_port": 80,
    "proto": "TCP",
    "app_proto": "http",
    "alert": {
        "action": "blocked",
        "signature_id": 1995001,
        "rev": 1,
        "signature": "SHIELDWALL Log4Shell",
        "category": "Attempted Administrator Privilege Gain",
        "severity": 1,
        "metadata": {"cve": ["CVE_2021_44228"]},
    },
    "http": {"hostname": "app.example", "url": "/", "http_method": "GET"},
}


def _write(path: Path, records: list[object], extra: str = "") -> None:
    with path.open("a") as fh:
        for r in records:
            fh.write(json.dumps(r) + "\n")
        fh.write(extra)


def test_reader_is_bounded_and_resumes(tmp_path: Path) -> None:
    eve = tmp_path / "eve.json"
    _write(eve, [{"n": i} for i in range(5)], extra='{"n": 99')  # an incomplete last line
    reader = EveReader(eve, tmp_path / "pos", max_lines=2)
    assert [r["n"] for r in reader.read()] == [0, 1]
    again = EveReader(eve, tmp_path / "pos", max_lines=10)
    assert [r["n"] for r in again.read()] == [2, 3, 4]
    with eve.open("a") as fh:
        fh.write("}\n")
    assert [r["n"] for r in again.read()] == [99]
    assert again.read() == []


def test_reader_skips_long_and_bad_lines_and_follows_truncation(tmp_path: Path) -> None:
    eve = tmp_path / "eve.json"
    _write(eve, [], extra="x" * 5000 + "\nnot json\n[1]\n" + json.dumps({"ok": 1}) + "\n")
    reader = EveReader(eve, tmp_path / "pos", max_line=1000)
    assert reader.read() == [{"ok": 1}]
    assert reader.skipped_long == 1 and reader.bad_json == 2
    eve.write_text(json.dumps({"ok": 2}) + "\n")  # truncated and rewritten: read from the start
    assert reader.read() == [{"ok": 2}]


def test_alert_to_event() -> None:
    event = to_event(ALERT, {1995001: ("CVE-2021-45046",)})
    assert event is not None
    assert event.kind == "ips.drop" and event.severity == Severity.HIGH
    assert event.attributes["cves"] == ["CVE-2021-44228", "CVE-2021-45046"]
    assert event.attributes["action"] == "blocked"
    assert event.attributes["http"]["hostname"] == "app.example"
    assert event.observed_at.year == 2026
    allowed = to_event({**ALERT, "alert": {**ALERT["alert"], "action": "allowed"}}, {})  # type: ignore[dict-item]
    assert allowed is not None and allowed.kind == "ips.alert" and allowed.key != event.key
    assert to_event({"event_type": "http"}, {}) is None
    assert to_event({"event_type": "alert", "alert": "x"}, {}) is None
    assert to_event(ALERT, {}) is not None and to_event(ALERT, {}).key == to_event(ALERT, {}).key  # type: ignore[union-attr]


def test_rotation_loses_nothing_written_before_the_reopen(tmp_path: Path) -> None:
    from shieldwall.agent.modules.ips.eve import at_end, rotate

    eve = tmp_path / "eve.json"
    writer = eve.open("a")
    for i in range(3):
        writer.write(json.dumps({"n": i}) + "\n")
    writer.flush()
    reader = EveReader(eve, tmp_path / "pos")
    assert [r["n"] for r in reader.read()] == [0, 1, 2] and at_end(reader)

    def reopen() -> None:
        nonlocal writer
        writer.write(json.dumps({"n": 3}) + "\n")  # written to the renamed file before the reopen
        writer.flush()
        writer.close()
        writer = eve.open("a")

    assert [r["n"] for r in rotate(reader, reopen)] == [3]
    assert not (tmp_path / "eve.json.1").exists()
    writer.write(json.dumps({"n": 4}) + "\n")
    writer.flush()
    assert [r["n"] for r in reader.read()] == [4]
    writer.close()


def test_failed_reopen_puts_the_file_back(tmp_path: Path) -> None:
    from shieldwall.agent.modules.ips.eve import rotate

    eve = tmp_path / "eve.json"
    eve.write_text(json.dumps({"n": 0}) + "\n")
    reader = EveReader(eve, tmp_path / "pos")
    reader.read()

    def reopen() -> None:
        raise OSError("socket down")

    try:
        rotate(reader, reopen)
    except OSError:
        pass
    else:
        raise AssertionError("rotation must fail")
    assert eve.exists() and reader.read() == []
