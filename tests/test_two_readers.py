"""Two readers: the model's facts count when their evidence checks out, never on the model's word.

Unit rows check the evidence verifier (quote verbatim, words name the fact, asserted now, dates give
the weeks). Integration rows run the real OpenAI client against the local fake server: verified
evidence wins over the rules' miss, unverifiable evidence is refused and the remaining disagreement
is a refer with both readings shown, and where both readers agree the draft is followed.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fake_openai import FakeOpenAI, Reply
from llm_drafts import faithful, with_decision
from test_openai_backend import fake, kb, make_reviewer  # noqa: F401  # fixtures

from agent.cases.determination import NoteQuote, ReportedCare, ReportedFacts, ReportedFlag, ViolationKind
from agent.cases.model import Case, Decision
from agent.review.evidence import verify_reading
from agent.review.reviewer import Reviewer

K = ViolationKind
NOTE_DATE = date(2026, 9, 20)


def case_of(note: str, key: str = "c") -> Case:
    request = {"patient": {"age": 50}, "procedures": [{"code": "72148"}], "note_date": NOTE_DATE, "clinical_notes": note}
    return Case.model_validate({"id": key, "request": request})


def q(text: str) -> NoteQuote:
    return NoteQuote(text=text)


FLAG_ROWS = [
    (
        "verified",
        "Back pain 4 days. New saddle numbness since Monday.",
        "cauda_equina",
        "New saddle numbness since Monday.",
        None,
    ),
    (
        "negated",
        "Back pain. Denies saddle numbness or retention.",
        "cauda_equina",
        "Denies saddle numbness or retention.",
        "negated",
    ),
    ("relative", "Back pain. Her brother had myeloma.", "malignancy", "Her brother had myeloma.", "someone else"),
    ("not verbatim", "Back pain for two weeks.", "infection", "Febrile to 39 C.", "not verbatim"),
    (
        "words name something else",
        "Back pain for two weeks. Works as a welder.",
        "infection",
        "Works as a welder.",
        "do not name",
    ),
    (
        "resolved",
        "Back pain. Fevers last spring, recovered fully.",
        "infection",
        "Fevers last spring, recovered fully.",
        "resolved",
    ),
]


@pytest.mark.parametrize(("note", "flag", "quote", "why"), [r[1:] for r in FLAG_ROWS], ids=[r[0] for r in FLAG_ROWS])
def test_flag_evidence(note: str, flag: str, quote: str, why: str | None) -> None:
    reported = ReportedFacts(extractor="llm:t", red_flags=[flag], flag_evidence=[ReportedFlag(flag=flag, quote=q(quote))])
    verified = verify_reading(case_of(note), reported)
    if why is None:
        assert flag in verified.red_flags and not verified.refused
    else:
        assert flag not in verified.red_flags and why in verified.refused[0].message


CARE_ROWS = [
    (
        "dates give the weeks",
        "Sciatica. Physical therapy 07/01/2026 to 08/20/2026, no relief.",
        "Physical therapy 07/01/2026 to 08/20/2026",
        7.0,
        None,
    ),
    (
        "over-claimed",
        "Sciatica. Physical therapy 07/01/2026 to 08/20/2026, no relief.",
        "Physical therapy 07/01/2026 to 08/20/2026",
        12.0,
        "give",
    ),
    (
        "planned",
        "Sciatica. Will start physical therapy for 6 weeks.",
        "Will start physical therapy for 6 weeks.",
        6.0,
        "hypothetical",
    ),
    ("no treatment named", "Sciatica for 9 weeks, worse.", "Sciatica for 9 weeks, worse.", 9.0, "name no treatment"),
]


@pytest.mark.parametrize(("note", "quote", "weeks", "why"), [r[1:] for r in CARE_ROWS], ids=[r[0] for r in CARE_ROWS])
def test_care_evidence(note: str, quote: str, weeks: float, why: str | None) -> None:
    reported = ReportedFacts(extractor="llm:t", care=[ReportedCare(modality="PT", weeks=weeks, quote=q(quote))])
    verified = verify_reading(case_of(note), reported)
    if why is None:
        assert verified.care_weeks == weeks and not verified.refused
    else:
        assert verified.care_weeks is None and why in verified.refused[0].message


CANDIDACY_ROWS = [
    ("planned tfesi", "Sciatica. Plan: L4-5 / L5-S1 TFESI per MRI.", "L4-5 / L5-S1 TFESI per MRI", None),
    ("past injection", "Sciatica. s/p L5 ESI in 2019 with relief.", "s/p L5 ESI in 2019 with relief.", "no planned"),
    ("declined later", "Sciatica. Discussed TFESI. He declines injections.", "Discussed TFESI.", "declines"),
]


@pytest.mark.parametrize(("note", "quote", "why"), [r[1:] for r in CANDIDACY_ROWS], ids=[r[0] for r in CANDIDACY_ROWS])
def test_candidacy_evidence(note: str, quote: str, why: str | None) -> None:
    reported = ReportedFacts(extractor="llm:t", candidacy_quote=q(quote))
    verified = verify_reading(case_of(note), reported)
    assert (verified.candidacy is not None) == (why is None)
    if why:
        assert why in verified.refused[0].message


# --- through the real client and the fake server ------------------------------------------------------

# The rules find physiotherapy here but no length for it (the dates stand in the next sentence, and
# "twice a week" is a frequency); the dates give seven weeks.
PHYSIO = (
    "50 yo with left leg pain below the knee since June, worse despite treatment. "
    "Physio with Mr. Kay twice a week. 7/27/2026-9/14/2026, no better. SLR positive on the left.\n"
    "Plan: left L5 TFESI."
)
PHYSIO_QUOTE = "Physio with Mr. Kay twice a week. 7/27/2026-9/14/2026, no better."
SHORT_CARE = (
    "50 yo with left leg pain below the knee for 10 weeks, worse. Naproxen since 09/01/2026. "
    "SLR positive on the left.\nPlan: left L5 TFESI."
)


def with_care(args: dict[str, Any], quote: str, weeks: float) -> dict[str, Any]:
    out = copy.deepcopy(args)
    out["note_reading"]["conservative_care"] = [{"modality": "physical therapy", "weeks": weeks, "note_quote": quote}]
    out["note_reading"]["conservative_care_weeks"] = weeks
    return out


def review(reviewer: Reviewer, server: FakeOpenAI, c: Case, edit: Callable[[dict[str, Any]], dict[str, Any]], times: int = 1):  # type: ignore[no-untyped-def]
    server.enqueue(*[Reply(arguments=edit(faithful(reviewer.request_for(c))))] * times)
    return reviewer.review(c)


def test_rules_alone_refer_the_physio_case_they_cannot_date(make_reviewer: Callable[..., Reviewer]) -> None:  # noqa: F811
    reviewer = make_reviewer(backend="offline")
    det = reviewer.review(case_of(PHYSIO))
    assert det.decisions["72148"] == Decision.refer  # never deny on care the reader cannot date
    assert "cannot count weeks it cannot date" in det.determinations[0].rationale


def test_verified_model_evidence_wins(make_reviewer: Callable[..., Reviewer], fake: FakeOpenAI) -> None:  # noqa: F811
    reviewer = make_reviewer()
    det = review(
        reviewer, fake, case_of(PHYSIO, "physio"), lambda f: with_decision(with_care(f, PHYSIO_QUOTE, 7), "72148", "approve")
    )
    assert det.decisions["72148"] == Decision.approve and det.path == "accepted"
    assert K.model_evidence_verified in {v.kind for v in det.validator_findings}


def test_unverifiable_evidence_is_refused_and_the_disagreement_referred(
    make_reviewer: Callable[..., Reviewer],  # noqa: F811
    fake: FakeOpenAI,  # noqa: F811
) -> None:
    reviewer = make_reviewer()
    claim = "Naproxen since 09/01/2026."
    det = review(
        reviewer, fake, case_of(SHORT_CARE, "short"), lambda f: with_decision(with_care(f, claim, 10), "72148", "approve"), 3
    )
    kinds = {v.kind for v in det.validator_findings}
    assert det.decisions["72148"] == Decision.refer  # never deny on the rules' reading alone while the readers disagree
    assert K.model_evidence_refused in kinds and K.conservative_care_disagreement in kinds
    messages = " ".join(v.message for v in det.validator_findings)
    assert "10 weeks" in messages and "the rules" in messages  # both readings shown


def test_where_both_readers_agree_the_draft_is_followed(make_reviewer: Callable[..., Reviewer], fake: FakeOpenAI) -> None:  # noqa: F811
    reviewer = make_reviewer()
    det = review(reviewer, fake, case_of(SHORT_CARE, "agree"), lambda f: f)
    assert det.path == "accepted" and det.decisions["72148"] == Decision.deny
