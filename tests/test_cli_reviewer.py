"""``umreview history``, ``audit verify`` and ``sign`` in-process, on the default SQLite store in the test data dir."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_store import PHYSICIAN, saved
from typer.testing import CliRunner

from agent.cases.load import load_case
from agent.cli.main import app
from agent.knowledge.base import KnowledgeBase
from agent.review.reviewer import Reviewer
from agent.settings import get_settings
from agent.store.reviews import Store

runner = CliRunner()
EXAMPLE = Path(__file__).parent.parent / "examples" / "cervical-fusion-mid-low-back-burning.yaml"
SIGN = ["--reviewer", PHYSICIAN["reviewer"], "--credentials", PHYSICIAN["credentials"]]


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store()  # Settings() from the isolated test environment: SQLite in a fresh data dir
    yield s
    s.close()


def test_history_table_and_json(store: Store) -> None:
    late = saved(store, {"72148": "deny"}, received_at=datetime.now(UTC) - timedelta(days=9))
    fresh = saved(store, {"72141": "approve", "72146": "refer"}, case_id="case-2", urgency="expedited")
    table = runner.invoke(app, ["history"], terminal_width=200)
    assert table.exit_code == 0, table.output
    assert late.id in table.stdout and fresh.id in table.stdout and "OVERDUE" in table.stdout
    assert "72148 deny" in table.stdout and "expedited" in table.stdout

    listed = json.loads(runner.invoke(app, ["history", "--json"]).stdout)
    assert [r["id"] for r in listed] == [fresh.id, late.id]
    assert listed[1]["overdue"] is True and listed[1]["recommendations"] == {"72148": "deny"}
    assert "case_json" not in listed[0] and "clinical_notes" not in json.dumps(listed)  # no note text

    overdue = json.loads(runner.invoke(app, ["history", "--overdue", "--json"]).stdout)
    assert [r["id"] for r in overdue] == [late.id]
    assert json.loads(runner.invoke(app, ["history", "--status", "final", "--json"]).stdout) == []


def test_history_empty() -> None:
    result = runner.invoke(app, ["history"])
    assert result.exit_code == 0 and "No reviews" in result.stdout


def test_sign_uphold_then_history_shows_final(store: Store) -> None:
    rec = saved(store, {"72148": "deny"})
    result = runner.invoke(app, ["sign", rec.id, *SIGN, "--decision", "uphold"])
    assert result.exit_code == 0, result.output
    assert "upheld" in result.stdout and "final" in result.stdout
    signed = json.loads(runner.invoke(app, ["history", "--status", "final", "--json"]).stdout)
    assert signed[0]["signoff"]["credentials"] == PHYSICIAN["credentials"] and signed[0]["overdue"] is False


def test_sign_overturn_to_refer(store: Store) -> None:
    rec = saved(store, {"72148": "deny", "72141": "deny"})
    args = ["sign", rec.id, *SIGN, "--decision", "overturn", "--reason", "surgeon consult", "--to", "refer", "--code", "72141"]
    result = runner.invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["final_decisions"] == {"72148": "deny", "72141": "refer"}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--decision", "uphold", "--role", "nurse"], "only a physician reviewer"),
        (["--decision", "overturn"], "needs a reason"),
    ],
    ids=["nurse", "overturn-without-reason"],
)
def test_sign_refusals_exit_2(store: Store, extra: list[str], message: str) -> None:
    rec = saved(store, {"72148": "deny"})
    result = runner.invoke(app, ["sign", rec.id, *SIGN, *extra])
    assert result.exit_code == 2
    assert message in " ".join(result.stderr.split())
    assert store.get_review(rec.id).status == "recommendation"


def test_sign_unknown_review_exit_2() -> None:
    result = runner.invoke(app, ["sign", "R-000000000000", *SIGN, "--decision", "uphold"])
    assert result.exit_code == 2 and "umreview history" in " ".join(result.stderr.split())


def test_audit_verify_ok_then_tampered(store: Store) -> None:
    rec = saved(store, {"72148": "deny"})
    ok = runner.invoke(app, ["audit", "verify"])
    assert ok.exit_code == 0, ok.output
    assert "audit log OK: 1 review(s), 1 event(s)" in ok.stdout
    with sqlite3.connect(get_settings().data_dir / "umreview.sqlite3") as conn:
        conn.execute("UPDATE reviews SET urgency = 'expedited' WHERE id = ?", (rec.id,))
    bad = runner.invoke(app, ["audit", "verify"])
    assert bad.exit_code == 1
    assert "review_edited" in bad.stderr and rec.id in bad.stderr
    report = json.loads(runner.invoke(app, ["audit", "verify", "--json"]).stdout)
    assert report["ok"] is False and report["problems"][0]["kind"] == "review_edited"


@pytest.mark.slow
def test_review_stores_and_prints_the_review_id() -> None:
    result = runner.invoke(app, ["review", str(EXAMPLE), "--json"])
    assert result.exit_code == 0, result.output
    [rec] = Store().list_reviews()
    assert rec.id in result.stderr and rec.case_id == "cervical-fusion-mid-low-back-burning"
    assert json.loads(result.stdout)["case_id"] == rec.case_id  # stdout is still the determination JSON
    assert rec.backend == "offline" and rec.kb_version and [e.kind for e in Store().events(rec.id)] == ["reviewed"]
    skipped = runner.invoke(app, ["review", str(EXAMPLE), "--no-store"])
    assert skipped.exit_code == 0 and len(Store().list_reviews()) == 1


def test_letter_for_a_stored_review_is_draft_until_signed(store: Store, kb_offline: KnowledgeBase) -> None:
    case = load_case(EXAMPLE)
    determination = Reviewer(kb_offline, backend="offline", retrieve=False).review(case)
    rec = store.save_review(case, determination, actor="nurse")
    draft = runner.invoke(app, ["letter", rec.id])
    assert draft.exit_code == 0, draft.output
    assert "DRAFT" in draft.stdout and "72158" in draft.stdout
    assert runner.invoke(app, ["sign", rec.id, *SIGN, "--decision", "uphold"]).exit_code == 0
    final = runner.invoke(app, ["letter", rec.id, "--audience", "provider"])
    assert final.exit_code == 0, final.output
    assert "DRAFT" not in final.stdout and PHYSICIAN["reviewer"] in final.stdout
    drafted = [e for e in store.events(rec.id) if e.kind.value == "letter_drafted"]
    assert [e.payload["final"] for e in drafted] == [False, True] and all(e.actor for e in drafted)


def test_letter_for_an_unknown_review_exit_2() -> None:
    result = runner.invoke(app, ["letter", "R-000000000000"])
    assert result.exit_code == 2 and "R-000000000000" in result.stderr


def test_history_due_order_and_limit(store: Store) -> None:
    late = saved(store, {"72148": "deny"}, received_at=datetime.now(UTC) - timedelta(days=9))
    fresh = saved(store, {"72141": "approve"}, case_id="case-2")
    newest = json.loads(runner.invoke(app, ["history", "--json", "--limit", "1"]).stdout)
    assert [r["id"] for r in newest] == [fresh.id]
    soonest = json.loads(runner.invoke(app, ["history", "--json", "--due"]).stdout)
    assert [r["id"] for r in soonest] == [late.id, fresh.id]
