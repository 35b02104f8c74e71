"""The umreview command line, called in-process with typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cli.main import app

EXAMPLE = Path(__file__).parent.parent / "examples" / "cervical-fusion-mid-low-back-burning.yaml"
runner = CliRunner()


@pytest.mark.slow
def test_review_example_json() -> None:
    result = runner.invoke(app, ["review", str(EXAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    det = json.loads(result.stdout)
    assert det["status"] == "recommendation"
    assert det["red_flags"] == []
    decisions = {d["code"]: d for d in det["determinations"]}
    assert {c: d["decision"] for c, d in decisions.items()} == {"72157": "deny", "72158": "deny"}
    assert det["provenance"]["backend_kind"] == "rules"
    for d in decisions.values():
        cited = [f for f in d["criteria"] if f["citation"] and (f["note_quotes"] or f["status"] != "met")]
        assert len(cited) >= 3
        missing = " ".join(d["missing_documentation"]).lower()
        assert "6 weeks" in missing and "conservative care" in missing
        assert "radicular" in missing and ("surgery or an intervention" in missing)
    lumbar_surgery = next(f for f in decisions["72158"]["criteria"] if f["criterion_id"] == "prior_surgery_same_region")
    assert lumbar_surgery["status"] == "not_met" and "cervical" in lumbar_surgery["explanation"]
    assert det["retrieved"]["72158"]


@pytest.mark.slow
def test_review_batch_resumes(tmp_path: Path) -> None:
    cases = tmp_path / "cases"
    cases.mkdir()
    text = EXAMPLE.read_text()
    for name in ("a", "b"):
        (cases / f"{name}.yaml").write_text(text.replace("id: cervical-fusion-mid-low-back-burning", f"id: case-{name}"))
    out = tmp_path / "out"
    first = runner.invoke(app, ["review", str(cases), "--out", str(out)])
    assert first.exit_code == 0, first.output
    assert sorted(p.name for p in out.glob("*.json")) == ["case-a.json", "case-b.json"]
    stamp = (out / "case-a.json").stat().st_mtime_ns
    second = runner.invoke(app, ["review", str(cases), "--out", str(out)])
    assert second.exit_code == 0
    assert "already reviewed" in second.stderr
    assert (out / "case-a.json").stat().st_mtime_ns == stamp


def test_bad_case_file_exit_2_names_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: x\nrequest:\n  patient: {age: 40, sex: robot}\n  procedures: [{code: '72148'}]\n  clinical_notes: secret note\n"
    )
    result = runner.invoke(app, ["review", str(bad)])
    assert result.exit_code == 2
    assert "bad.yaml" in result.stderr and "request.patient.sex" in result.stderr
    assert "secret note" not in result.stderr


def test_schema_is_json_schema() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["title"] == "Determination" and "determinations" in schema["properties"]


def test_help_lists_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("review", "schema", "search", "ingest", "kb"):
        assert command in result.stdout
