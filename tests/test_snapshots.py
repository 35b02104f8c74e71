"""Renderer snapshots: one small case per outcome (approve, deny, refer), each rendered as
determination JSON, Markdown, FHIR ClaimResponse and (for the denial) the member letter.

Volatile fields (times, the knowledge-base hash, engine and criteria versions) are masked. When a
change is intended: `python -m pytest tests/test_snapshots.py --update-snapshots` and review the diff.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from agent.cases.fhir import claim_response
from agent.cases.load import load_case
from agent.cases.model import Case
from agent.knowledge.base import KnowledgeBase
from agent.letters.draft import draft_letter
from agent.letters.render import letter_markdown
from agent.review.render import to_markdown
from agent.review.reviewer import Reviewer

ROOT = Path(__file__).parent.parent
SNAPSHOTS = Path(__file__).parent / "snapshots"
CASES = {
    "deny": ROOT / "examples" / "cervical-fusion-mid-low-back-burning.yaml",
    "approve": ROOT / "evals" / "cases" / "lbp-bilateral-sciatica-pvr-450.yaml",
    "refer": ROOT / "evals" / "holdout" / "ho-brain-mri-out-of-scope.yaml",
}
VOLATILE_KEYS = {"created_at", "created", "kb_version", "engine_version", "criteria_version"}
STAMP = re.compile(r"\b20\d\d-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:\d\d)?")
KB_HASH = re.compile(r"\bkb-[0-9a-f]{8,}\b")


def mask(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<masked>" if k in VOLATILE_KEYS else mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    if isinstance(value, str):
        return KB_HASH.sub("kb-<masked>", STAMP.sub("<time>", value))
    return value


def check(name: str, text: str, request: pytest.FixtureRequest) -> None:
    path = SNAPSHOTS / name
    if request.config.getoption("--update-snapshots") or not path.exists():
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        if not request.config.getoption("--update-snapshots"):
            pytest.fail(f"{name} had no snapshot; one was written: review it and commit it")
    assert text == path.read_text(), f"{name} changed; if intended: pytest {__file__} --update-snapshots"


@pytest.fixture(scope="module")
def reviewed(kb_offline: KnowledgeBase) -> dict[str, tuple[Case, Any]]:
    reviewer = Reviewer(kb_offline, backend="offline", retrieve=False)
    out = {}
    for outcome, path in CASES.items():
        case = load_case(path).model_copy(update={"expected": None})
        out[outcome] = (case, reviewer.review(case))
    return out


@pytest.mark.parametrize("outcome", list(CASES))
def test_determination_json(outcome: str, reviewed: dict[str, tuple[Case, Any]], request: pytest.FixtureRequest) -> None:
    _, det = reviewed[outcome]
    assert {d.decision.value for d in det.determinations} == {outcome}
    data = mask(json.loads(det.model_dump_json()))
    check(f"{outcome}.determination.json", json.dumps(data, indent=2, sort_keys=True) + "\n", request)


@pytest.mark.parametrize("outcome", list(CASES))
def test_markdown(outcome: str, reviewed: dict[str, tuple[Case, Any]], request: pytest.FixtureRequest) -> None:
    _, det = reviewed[outcome]
    check(f"{outcome}.md", mask(to_markdown(det)), request)


@pytest.mark.parametrize("outcome", list(CASES))
def test_fhir_claim_response(outcome: str, reviewed: dict[str, tuple[Case, Any]], request: pytest.FixtureRequest) -> None:
    case, det = reviewed[outcome]
    data = mask({**claim_response(det, case, claim_id=case.id), "id": "<uuid>"})  # a fresh resource id per response
    check(f"{outcome}.claimresponse.json", json.dumps(data, indent=2, sort_keys=True) + "\n", request)


def test_member_denial_letter(reviewed: dict[str, tuple[Case, Any]], request: pytest.FixtureRequest) -> None:
    case, det = reviewed["deny"]
    received = datetime(2026, 10, 5, 9, 30, tzinfo=UTC)
    letter = draft_letter(
        case, det, audience="member", line_of_business="commercial", received_at=received, notice_date=received.date()
    )
    check("deny.member-letter.md", mask(letter_markdown(letter)), request)
