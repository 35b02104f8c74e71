"""The model's reading of the note against the rules: disagreements are findings; only deny -> refer is allowed."""

from __future__ import annotations

import pytest

from agent.backends.base import DraftRequest
from agent.backends.offline import OfflineBackend
from agent.cases.determination import Determination, ReportedFacts, ViolationKind
from agent.cases.model import Case, Decision
from agent.criteria.engine import Engine
from agent.criteria.model import CriteriaSet
from agent.facts.extract import extract_facts
from agent.facts.model import ClinicalFacts
from agent.review.evidence import verify_reading
from agent.review.fact_check import refer_on_unconfirmed_flags
from agent.review.readings import reading_findings

K = ViolationKind
NO_CARE = "52 year old with 10 weeks of low back pain. Pain is worse since the last visit."
PT_8_WEEKS = "52 year old with low back pain for 10 weeks. Completed 8 weeks of physical therapy without relief."
CAUDA = "48 year old with low back pain for 3 days and new urinary retention since yesterday."


def case_for(note: str) -> Case:
    request = {"patient": {"age": 50}, "procedures": [{"code": "72148"}], "clinical_notes": note}
    return Case.model_validate({"id": "c", "request": request})


def facts_for(note: str) -> ClinicalFacts:
    return extract_facts(case_for(note))


def reading(flags: list[str] = [], weeks: float | None = None) -> ReportedFacts:  # noqa: B006  # never mutated
    return ReportedFacts(extractor="llm:test", red_flags=flags, conservative_care_weeks=weeks)


@pytest.mark.parametrize(
    ("note", "reported", "kinds"),
    [
        (NO_CARE, reading(), set()),
        (NO_CARE, reading(["infection"]), {K.model_red_flag_unconfirmed}),
        (CAUDA, reading(["cauda_equina"]), set()),
        (CAUDA, reading([]), set()),  # a flag the model missed is the validator's red_flag_disagreement
        (PT_8_WEEKS, reading(weeks=8), set()),
        (PT_8_WEEKS, reading(weeks=8.5), set()),
        (PT_8_WEEKS, reading(weeks=2), {K.conservative_care_disagreement}),
        (PT_8_WEEKS, reading(weeks=None), {K.conservative_care_disagreement}),
        (NO_CARE, reading(weeks=6), {K.conservative_care_disagreement}),
    ],
    ids=[
        "agree-nothing",
        "model-only-flag",
        "agree-on-flag",
        "model-misses-flag",
        "same-weeks",
        "weeks-within-a-week",
        "model-reads-fewer-weeks",
        "model-reads-no-care",
        "model-invents-care",
    ],
)
def test_disagreements_are_info_findings(note: str, reported: ReportedFacts, kinds: set[ViolationKind]) -> None:
    facts = facts_for(note)
    found = reading_findings(facts, reported, verify_reading(case_for(note), reported, set(facts.present_flags())))
    assert {v.kind for v in found} == kinds
    assert all(v.severity == "info" and v.safe_decision is None for v in found)


def test_no_reading_no_findings() -> None:
    assert reading_findings(facts_for(NO_CARE), None, verify_reading(case_for(NO_CARE), None)) == []


def offline(note: str, codes: list[str], engine: Engine, criteria: CriteriaSet) -> tuple[Determination, ClinicalFacts]:
    case = Case.model_validate(
        {"id": "c", "request": {"patient": {"age": 50}, "procedures": [{"code": c} for c in codes], "clinical_notes": note}}
    )
    facts = extract_facts(case)
    request = DraftRequest(
        case=case,
        facts=facts,
        engine=engine.decide(case, facts),
        hits={},
        criteria_set=criteria.policy.id,
        criteria_version=criteria.policy.version,
        kb_version="test",
    )
    return OfflineBackend().draft(request), facts


@pytest.mark.parametrize(
    ("flags", "codes", "before", "after"),
    [
        (["infection"], ["72148"], {"72148": "deny"}, {"72148": "refer"}),
        (["myelopathy"], ["72148"], {"72148": "deny"}, {"72148": "deny"}),  # a cervical flag does not decide the lumbar code
        ([], ["72148"], {"72148": "deny"}, {"72148": "deny"}),
        (["infection"], ["72148", "72141"], {"72148": "deny", "72141": "deny"}, {"72148": "refer", "72141": "refer"}),
    ],
    ids=["lumbar-flag-refers-lumbar-deny", "other-region-flag-ignored", "no-model-flag", "flag-bearing-on-both-regions"],
)
def test_model_only_flag_turns_deny_into_refer(
    engine: Engine, criteria: CriteriaSet, flags: list[str], codes: list[str], before: dict[str, str], after: dict[str, str]
) -> None:
    det, facts = offline(NO_CARE, codes, engine, criteria)
    assert det.decisions == before
    final = refer_on_unconfirmed_flags(det, reading(flags), facts, criteria)
    assert final.decisions == after
    changed = [v for v in final.validator_findings if v.kind == K.model_red_flag_unconfirmed]
    assert len(changed) == sum(before[c] != after[c] for c in codes)


def test_model_only_flag_never_turns_anything_into_approve(engine: Engine, criteria: CriteriaSet) -> None:
    det, facts = offline(NO_CARE, ["72148"], engine, criteria)
    for decision in Decision:
        draft = det.model_copy(update={"determinations": [det.determinations[0].model_copy(update={"decision": decision})]})
        final = refer_on_unconfirmed_flags(draft, reading(["infection", "cauda_equina"]), facts, criteria)
        expected = Decision.refer if decision == Decision.deny else decision
        assert final.decisions["72148"] == expected
