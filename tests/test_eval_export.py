"""``umreview eval export --from-audit``: signed reviews become labeled cases, and the export round-trips
through ``umreview eval`` (and ``--baseline``), on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
import json
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pg_server import PgServer
from typer.testing import CliRunner

from agent.cases.load import load_case, load_cases
from agent.cases.model import Decision
from agent.cli import eval as cli_eval
from agent.cli.main import app
from agent.errors import ExportError
from agent.evals.export import case_yaml, export_signed, labeled_case
from agent.knowledge.base import KnowledgeBase
from agent.service import Service
from agent.settings import Settings, get_settings
from agent.store.reviews import ReviewRecord

ROOT = Path(__file__).parent.parent
runner = CliRunner()
_numbers = itertools.count()

# case file -> what the physician does: ("uphold",), ("overturn", to, [codes] or None, reason), or None (never signed)
SIGNOFFS: dict[str, tuple[object, ...] | None] = {
    "evals/cases/neck-c7-radic-3wk.yaml": ("uphold",),  # 72141 deny, upheld
    "evals/cases/lbp-acute-axial-2wk-no-red-flags.yaml": ("overturn", "approve", None, "PT notes show 8 weeks of care"),
    "evals/cases/lbp-bilateral-sciatica-pvr-450.yaml": ("uphold",),  # 72148 approve, cauda equina flag
    "evals/cases/multi-cervical-radic-approve-lumbar-axial-deny.yaml": ("overturn", "refer", ["72148"], "Needs peer-to-peer"),
    "evals/cases/neck-radic-7wk-72156-alt-72141.yaml": ("uphold",),  # 72156 deny
    "evals/holdout-6/h6-lumbar-attachments-care-33d-esi-planned.yaml": ("uphold",),  # documentation in attachments
    "evals/cases/lbp-diabetes-only-4wk.yaml": None,  # a recommendation only: never a label
}


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """Retrieval through a deterministic fake embedder: the real pipeline, no model."""
    from test_retrieval import HashEmbedder

    base = KnowledgeBase(Settings(data_dir=tmp_path_factory.mktemp("export-kb")), embedder=HashEmbedder())
    base.sync()
    return base


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The audit store every command of the test uses (UMREVIEW_DATABASE_URL)."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'audit.sqlite3'}"
    else:
        server: PgServer = request.getfixturevalue("pg_server")
        url = server.create_database(f"umreview_export_{next(_numbers)}")
    monkeypatch.setenv("UMREVIEW_DATABASE_URL", url)
    get_settings.cache_clear()
    return url


@pytest.fixture
def signed(database: str, kb: KnowledgeBase, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, ReviewRecord]]:
    """Each case reviewed (offline backend) and stored, then signed as SIGNOFFS says."""
    monkeypatch.setattr(cli_eval, "knowledge_base", lambda settings: kb)
    service = Service(get_settings(), kb=kb)
    records = {}
    for path, action in SIGNOFFS.items():
        rec = service.submit(load_case(ROOT / path), actor="nurse.kim")
        if action is not None and action[0] == "uphold":
            rec = service.sign(rec.id, reviewer="Dr. Ana Lee", credentials="MD, radiology", decision="uphold")
        elif action is not None:
            _, to, codes, reason = action
            rec = service.sign(
                rec.id,
                reviewer="Dr. Ana Lee",
                credentials="MD, radiology",
                decision="overturn",
                reason=reason,
                codes=codes,
                to=to,
            )
        records[path] = rec
    yield records
    service.store.close()


def test_export_and_eval_round_trip(signed: dict[str, ReviewRecord], tmp_path: Path) -> None:
    out = tmp_path / "from-audit"
    result = runner.invoke(app, ["eval", "export", "--from-audit", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    unsigned = signed["evals/cases/lbp-diabetes-only-4wk.yaml"]
    assert summary["skipped_unsigned"] == 1 and len(summary["written"]) == 6
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{r.id}.yaml" for r in signed.values() if r.signoff)
    assert not (out / f"{unsigned.id}.yaml").exists()
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600 for p in out.iterdir())  # the files hold the note
    for rec in signed.values():  # nothing of any note on the terminal
        assert (rec.case.request.clinical_notes or "")[:40] not in result.output

    # Labels: the physician's final decision per code; provenance kept.
    loaded = load_cases([out])
    assert not loaded.errors
    cases = {c.id: c for c in loaded.cases}
    for rec in signed.values():
        if rec.signoff is None:
            continue
        case = cases[rec.id]
        assert case.expected is not None and case.expected.source is not None
        assert case.expected.decisions == rec.final_decisions
        assert case.request == rec.case.request  # the note and attachments exactly as stored
        src = case.expected.source
        assert (src.review_id, src.case_id, src.signed_by, src.credentials) == (
            rec.id,
            rec.case_id,
            "Dr. Ana Lee",
            "MD, radiology",
        )
        assert src.signed_at == rec.signoff.at and src.recommended == rec.recommendations
        assert (src.backend, src.criteria_set, src.criteria_version) == ("offline", rec.criteria_set, rec.criteria_version)
        assert src.prompt_version == rec.prompt_version and src.kb_version == rec.kb_version
        assert case.expected.red_flags == sorted(rec.determination.red_flags)
    overturned = cases[signed["evals/cases/lbp-acute-axial-2wk-no-red-flags.yaml"].id].expected
    assert overturned is not None and overturned.decisions == {"72148": Decision.approve}
    assert overturned.notes == "Physician overturned the recommendation (72148 deny -> approve): PT notes show 8 weeks of care"
    multi = cases[signed["evals/cases/multi-cervical-radic-approve-lumbar-axial-deny.yaml"].id].expected
    assert multi is not None and multi.decisions == {"72141": Decision.approve, "72148": Decision.refer}
    flagged = cases[signed["evals/cases/lbp-bilateral-sciatica-pvr-450.yaml"].id].expected
    assert flagged is not None and "cauda_equina" in flagged.red_flags and flagged.notes == "Physician upheld the recommendation"
    for rec in signed.values():  # alternatives: the signed determination's, for codes that stay denied
        if rec.signoff is not None:
            dets = rec.determination.determinations
            wanted = {d.code: d.alternative_code for d in dets if d.alternative_code and rec.final_decisions[d.code] == "deny"}
            assert cases[rec.id].expected.alternatives == wanted  # type: ignore[union-attr]  # checked above

    # The export is a case set: it lints, and the eval runs on it and gates against its own baseline.
    lint = runner.invoke(app, ["eval", "--lint", str(out)])
    assert lint.exit_code == 0, lint.output
    base = tmp_path / "baseline.json"
    first = runner.invoke(app, ["eval", str(out), "--results", str(base)])
    assert first.exit_code == 0, first.output
    results = json.loads(base.read_text())
    assert results["summary"]["cases"] == 6 and results["summary"]["codes"] == 7
    # Only the two overturned codes disagree with the engine (it recommends what it recommended before);
    # the overturn to approve is an unsafe denial against the physician's label.
    assert results["summary"]["correct_codes"] == 5
    assert [(u["code"], u["expected"], u["predicted"]) for u in results["summary"]["unsafe_denials"]] == [
        ("72148", "approve", "deny")
    ]
    again = runner.invoke(app, ["eval", str(out), "--baseline", str(base), "--fail-on-regression"])
    assert again.exit_code == 0, again.output
    assert "no regression" in again.stderr
    strict = runner.invoke(app, ["eval", str(out), "--fail-on-regression"])  # no baseline: every unsafe denial counts
    assert strict.exit_code == 1


def test_since_policy_and_rerun(signed: dict[str, ReviewRecord], tmp_path: Path) -> None:
    out = tmp_path / "out"
    future = runner.invoke(app, ["eval", "export", "--from-audit", "--since", "2999-01-01", str(out), "--json"])
    assert future.exit_code == 0, future.output
    data = json.loads(future.stdout)
    assert data["written"] == [] and data["skipped_before_since"] == 6 and data["skipped_unsigned"] == 1
    other = runner.invoke(app, ["eval", "export", "--from-audit", "--policy", "payer-model", str(out), "--json"])
    assert json.loads(other.stdout)["skipped_other_policy"] == 6
    first = runner.invoke(app, ["eval", "export", "--from-audit", str(out)])
    assert first.exit_code == 0, first.output
    assert "1 unsigned review(s) left out" in first.stderr and "--policy acr-default" in first.stderr
    before = {p.name: p.read_text() for p in out.iterdir()}
    assert runner.invoke(app, ["eval", "export", "--from-audit", str(out)]).exit_code == 0
    assert {p.name: p.read_text() for p in out.iterdir()} == before  # re-running rewrites the same files


def test_bad_input(database: str, tmp_path: Path) -> None:
    no_source = runner.invoke(app, ["eval", "export", str(tmp_path / "x")])
    assert no_source.exit_code == 2 and "--from-audit" in no_source.stderr
    bad_date = runner.invoke(app, ["eval", "export", "--from-audit", "--since", "yesterday", str(tmp_path / "x")])
    assert bad_date.exit_code == 2 and "YYYY-MM-DD" in bad_date.stderr
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a directory")
    not_dir = runner.invoke(app, ["eval", "export", "--from-audit", str(a_file)])
    assert not_dir.exit_code == 2 and "is a file" in not_dir.stderr


def test_unsigned_review_is_never_a_label(signed: dict[str, ReviewRecord]) -> None:
    with pytest.raises(ExportError, match="not signed"):
        labeled_case(signed["evals/cases/lbp-diabetes-only-4wk.yaml"])


def test_labels_from_a_hand_made_record() -> None:
    """Alternatives only for codes that stay denied; the reason in the notes; provenance from the record."""
    from test_oversight import REVIEWS, record

    upheld = record(REVIEWS[0])  # R1: 72148 deny, upheld
    det = upheld.determination.model_copy(deep=True)
    det.determinations[0].alternative_code = "72100"
    with_alt = ReviewRecord.model_validate({**upheld.model_dump(), "determination_json": det.model_dump_json()})
    case = labeled_case(with_alt)
    assert case.id == "R1" and case.expected is not None
    assert case.expected.alternatives == {"72148": "72100"} and case.expected.decisions == {"72148": Decision.deny}
    assert case.expected.source is not None and case.expected.source.case_id == "case-R1"
    overturned = labeled_case(record(REVIEWS[1]))  # R2: deny -> approve
    assert overturned.expected is not None and overturned.expected.alternatives == {}
    assert overturned.expected.notes == "Physician overturned the recommendation (72148 deny -> approve): PT notes show 8 weeks"


def test_case_yaml_keeps_awkward_text_exactly(tmp_path: Path) -> None:
    """Notes with trailing spaces, tabs, quotes, unicode and YAML-looking lines survive the round trip."""
    from agent.cases.model import Case

    note = "Line one  \n\tindented: true\n- not a list\n\"quoted\" 'single' # not a comment\nµ naïve — ok\n\n\nend"
    case = Case.model_validate(
        {
            "id": "R-AWKWARD",
            "request": {"patient": {"age": 40}, "procedures": [{"code": "72148"}], "clinical_notes": note},
            "expected": {"decisions": {"72148": "deny"}},
        }
    )
    path = tmp_path / "R-AWKWARD.yaml"
    path.write_text(case_yaml(case))
    assert load_case(path) == case
    plain = case.model_copy(update={"request": case.request.model_copy(update={"clinical_notes": "a\nb\nc"})})
    assert "clinical_notes: |" in case_yaml(plain)  # readable blocks where YAML allows them
    assert yaml.safe_load(case_yaml(plain))["request"]["clinical_notes"] == "a\nb\nc"


def test_export_signed_library_call(signed: dict[str, ReviewRecord], tmp_path: Path) -> None:
    from agent.store.reviews import Store

    store = Store()
    try:
        result = export_signed(store, tmp_path / "lib")
    finally:
        store.close()
    assert {w.review_id for w in result.written} == {r.id for r in signed.values() if r.signoff}
    overturned = [w for w in result.written if w.overturned_codes]
    assert sorted(c for w in overturned for c in w.overturned_codes) == ["72148", "72148"]
    assert result.criteria_sets == ["acr-default"]
