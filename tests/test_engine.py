"""The criteria engine, one clinical scenario per row, from hand-built facts (no extractor, no model)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from agent.cases.determination import CodeDetermination
from agent.cases.model import RED_FLAG_IDS, Case, Decision, Patient, Procedure, Request
from agent.criteria.engine import Engine
from agent.criteria.model import CriteriaSet
from agent.facts.model import (
    ClinicalFacts,
    ConservativeCare,
    Evidence,
    Fact,
    FactStatus,
    Modality,
    PriorSurgery,
    Region,
)
from agent.knowledge.base import KnowledgeBase

PRESENT = FactStatus.present
NOTE = (
    "Pain for 10 weeks. Pain radiates in a dermatomal pattern. Completed 8 weeks of physical therapy. "
    "Pain is worse despite therapy. Considering an epidural steroid injection. Prior spine surgery in 2019. "
    "New urinary retention. Left foot drop. Fever and elevated CRP. History of breast cancer. "
    "Fell from a ladder. Positive Hoffmann sign. Assessment: no radiculopathy."
)
FLAG_PHRASE = {
    "cauda_equina": "New urinary retention.",
    "progressive_neuro_deficit": "Left foot drop.",
    "infection": "Fever and elevated CRP.",
    "malignancy": "History of breast cancer.",
    "fracture": "Fell from a ladder.",
    "myelopathy": "Positive Hoffmann sign.",
}


def ev(phrase: str) -> Evidence:
    start = NOTE.index(phrase)
    return Evidence(quote=phrase, start=start, end=start + len(phrase))


def present(phrase: str, regions: list[Region] | None = None, value: float | None = None) -> Fact:
    return Fact(status=PRESENT, evidence=[ev(phrase)], regions=regions or [], value=value)


def facts(
    *,
    flags: tuple[str, ...] = (),
    care_weeks: float | None = None,
    radic: str | None = None,
    candidacy: bool = False,
    progression: bool = False,
    surgery_region: str | None = None,
    symptom_weeks: float | None = None,
    radic_denied: bool = False,
    care_undated: bool = False,
) -> ClinicalFacts:
    """ClinicalFacts with only the named facts present, each quoting NOTE verbatim."""
    built = ClinicalFacts(extractor="test:hand-built")
    for flag in flags:
        built.red_flags[flag] = present(FLAG_PHRASE[flag])
    if care_weeks is not None:
        pt = Modality(name="physical therapy", status=PRESENT, weeks=care_weeks, evidence=[ev("8 weeks of physical therapy")])
        built.conservative_care = ConservativeCare(status=PRESENT, modalities=[pt], total_weeks=care_weeks)
    if care_undated:  # care taken, but for how long the note never says
        pt = Modality(name="physical therapy", status=PRESENT, weeks=None, evidence=[ev("8 weeks of physical therapy")])
        built.conservative_care = ConservativeCare(status=PRESENT, modalities=[pt], total_weeks=None)
    if radic:
        built.radiculopathy = present("Pain radiates in a dermatomal pattern.", [Region(radic)])
        if radic_denied:
            built.radiculopathy.conflicts = [ev("Assessment: no radiculopathy.")]
    if candidacy:
        built.candidacy = present("Considering an epidural steroid injection.")
    if progression:
        built.progression = present("Pain is worse despite therapy.")
        built.worsening = present("Pain is worse despite therapy.")
    if surgery_region:
        built.prior_surgery = [PriorSurgery(region=Region(surgery_region), evidence=ev("Prior spine surgery in 2019."))]
    if symptom_weeks is not None:
        built.symptom_weeks = present("Pain for 10 weeks.", value=symptom_weeks)
    return built


def case(*codes: str) -> Case:
    procedures = [Procedure(code=c) for c in codes]
    return Case(id="engine-row", request=Request(patient=Patient(age=50), procedures=procedures, clinical_notes=NOTE))


@dataclass(frozen=True)
class Expect:
    decision: Decision
    variant: str | None = None
    alternative: str | None = None
    missing: str | None = None
    not_variant: str | None = None


def row(id: str, code: str, decision: str, given: dict[str, Any] | None = None, **expect: str) -> Any:
    """One scenario: the code requested, the facts given, what the engine must decide."""
    return pytest.param(code, given or {}, Expect(Decision(decision), **expect), id=id)


V3 = {"care_weeks": 8, "progression": True, "candidacy": True}
RADIC_7WK = {"care_weeks": 7, "progression": True}
SURGERY = {"progression": True}
UNDATED = {"care_undated": True, "progression": True, "candidacy": True}
ROWS = [
    row("lumbar-v3-8wk-care-approve", "72148", "approve", V3, variant="lbp-v3"),
    row("lumbar-4wk-care-deny", "72148", "deny", V3 | {"care_weeks": 4}, missing="6 weeks"),
    row("lumbar-no-candidacy-deny", "72148", "deny", V3 | {"candidacy": False}, missing="surgery or an intervention"),
    row("lumbar-contrast-v3-deny-alt-72148", "72158", "deny", V3, variant="lbp-v3", alternative="72148"),
    row("cauda-equina-72158-approve", "72158", "approve", {"flags": ("cauda_equina",)}, variant="lbp-v4"),
    row("cauda-equina-72148-approve", "72148", "approve", {"flags": ("cauda_equina",)}, variant="lbp-v4"),
    row("infection-72158-approve", "72158", "approve", {"flags": ("infection",)}, variant="lbp-v7"),
    row("fracture-72158-refer-not-deny", "72158", "refer", {"flags": ("fracture",)}, variant="lbp-v6", alternative="72148"),
    row("fracture-72100-approve", "72100", "approve", {"flags": ("fracture",)}, variant="lbp-v6"),
    row("deficit-72148-approve", "72148", "approve", {"flags": ("progressive_neuro_deficit",)}, variant="lbp-deficit"),
    row("myelopathy-72141-approve", "72141", "approve", {"flags": ("myelopathy",)}, variant="my-v2"),
    row("myelopathy-72156-approve", "72156", "approve", {"flags": ("myelopathy",)}, variant="my-v2"),
    row("myelopathy-lumbar-72148-deny", "72148", "deny", {"flags": ("myelopathy",)}, variant="lbp-v2"),
    row("cervical-axial-72141-deny-alt-72040", "72141", "deny", variant="cx-v1", alternative="72040"),
    row("cervical-axial-72040-approve", "72040", "approve", variant="cx-v1"),
    row("cervical-radic-72141-approve", "72141", "approve", {"radic": "cervical", **V3}, variant="cx-v2"),
    row("cervical-radic-contradicted-refer", "72141", "refer", {"radic": "cervical", **V3, "radic_denied": True}),
    row("thoracic-axial-8wk-72146-deny", "72146", "deny", {"care_weeks": 8, "progression": True}, variant="th-v2"),
    row("thoracic-radic-7wk-72146-approve", "72146", "approve", {"radic": "thoracic", **RADIC_7WK}, variant="th-v3"),
    row("cervical-radic-not-for-thoracic", "72146", "deny", {"radic": "cervical", **RADIC_7WK}, variant="th-v2"),
    row("prior-lumbar-surgery-72158-approve", "72158", "approve", {"surgery_region": "lumbar", **SURGERY}, variant="lbp-v5"),
    row("prior-cervical-surgery-lumbar-72148", "72148", "deny", {"surgery_region": "cervical", **SURGERY}, not_variant="lbp-v5"),
    row("unknown-code-70551-refer", "70551", "refer"),
    row("acute-2wk-lbp-v1-deny", "72148", "deny", {"symptom_weeks": 2}, variant="lbp-v1"),
    # care the reader cannot date: refer when it alone stands between the request and approval
    row("lumbar-undated-care-refer", "72148", "refer", UNDATED | {"symptom_weeks": 12}),
    row("lumbar-undated-care-symptoms-unknown-refer", "72148", "refer", UNDATED),
    row("lumbar-undated-care-3wk-symptoms-deny", "72148", "deny", UNDATED | {"symptom_weeks": 3}),
    row("lumbar-undated-care-no-candidacy-deny", "72148", "deny", UNDATED | {"candidacy": False}),
    row("cervical-radic-undated-care-refer", "72141", "refer", {"radic": "cervical", **UNDATED}),
]


def decide(engine: Engine, code: str, given: dict[str, Any]) -> CodeDetermination:
    (result,) = engine.decide(case(code), facts(**given))
    assert result.code == code
    return result


@pytest.mark.parametrize(("code", "given", "expect"), ROWS)
def test_decision(engine: Engine, code: str, given: dict[str, Any], expect: Expect) -> None:
    d = decide(engine, code, given)
    assert d.decision == expect.decision, d.variant_id
    if expect.variant:
        assert d.variant_id == expect.variant
    if expect.not_variant:
        assert d.variant_id != expect.not_variant
    assert d.alternative_code == expect.alternative
    if expect.missing:
        assert any(expect.missing in m for m in d.missing_documentation), d.missing_documentation


@pytest.mark.parametrize(("code", "given", "expect"), ROWS)
def test_judged_codes_cite_the_guideline_verbatim(
    engine: Engine, kb_offline: KnowledgeBase, code: str, given: dict[str, Any], expect: Expect
) -> None:
    d = decide(engine, code, given)
    if d.decision == Decision.refer and d.topic_id is None:
        assert d.criteria == [] and d.citations == []
        return
    cited = [f.citation for f in d.criteria if f.citation] + d.citations
    if d.decision != Decision.refer:
        assert any(f.citation for f in d.criteria), "a judged code needs at least one cited criterion"
    for citation in cited:
        chunk = kb_offline.corpus.chunk(citation.chunk_id)
        assert chunk is not None, citation.chunk_id
        assert citation.quote in chunk.text


@pytest.mark.parametrize(("code", "given", "expect"), ROWS)
def test_note_quotes_are_exact_spans(engine: Engine, code: str, given: dict[str, Any], expect: Expect) -> None:
    for finding in decide(engine, code, given).criteria:
        for q in finding.note_quotes:
            assert q.start is not None and q.end is not None
            assert NOTE[q.start : q.end] == q.text


@pytest.mark.parametrize("flag", RED_FLAG_IDS)
def test_a_red_flag_bearing_on_the_region_never_yields_deny(engine: Engine, criteria: CriteriaSet, flag: str) -> None:
    for code, info in criteria.codes.codes.items():
        d = decide(engine, code, {"flags": (flag,)})
        bearing = any(flag in t.red_flags for t in criteria.topics_for(info.region))
        if bearing:
            assert d.decision != Decision.deny, f"{flag} + {code} -> {d.variant_id}"
            assert flag in d.red_flags_present
        else:
            assert flag not in d.red_flags_present


def test_deny_lists_missing_documentation_and_decision_changing_flags(engine: Engine) -> None:
    d = decide(engine, "72148", {})
    assert d.decision == Decision.deny
    assert len(d.missing_documentation) >= 3
    assert len(d.decision_changing_red_flags) == 5  # the lumbar red flags, myelopathy excluded


def test_approve_and_refer_list_no_missing_documentation(engine: Engine) -> None:
    assert decide(engine, "72148", V3).missing_documentation == []
    assert decide(engine, "72158", {"flags": ("fracture",)}).missing_documentation == []


def test_criterion_statuses_follow_the_facts(engine: Engine) -> None:
    statuses = {f.criterion_id: f.status for f in decide(engine, "72148", {"care_weeks": 4, "candidacy": True}).criteria}
    assert statuses["conservative_care"] == "not_met"
    assert statuses["candidacy"] == "met"
    assert statuses["persistent_symptoms"] == "not_documented"


def test_one_determination_per_requested_code_in_order(engine: Engine) -> None:
    results = engine.decide(case("72158", "72148", "70551", "72148"), facts(**V3))
    assert [d.code for d in results] == ["72158", "72148", "70551"]
    assert [d.decision for d in results] == [Decision.deny, Decision.approve, Decision.refer]


def test_engine_is_deterministic(engine: Engine) -> None:
    assert decide(engine, "72148", V3) == decide(engine, "72148", V3)
