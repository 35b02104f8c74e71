"""The payer-model criteria set (guidelines/payer-spine-mri-policy.criteria.yaml) beside acr-default.

One table of small scenarios, each reviewed by the same engine under both criteria sets from
hand-built facts (no extractor, no embedding model), with the decision expected under each. The rows
where the two differ are the point: a new policy is data, not code.
"""

from __future__ import annotations

from datetime import date, timedelta
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

ACR, PAYER = "acr-default", "payer-model"
NOTE_DATE = date(2026, 11, 16)  # payer-model 2026.3 (the current text) is in force on it
DOCUMENT = "payer-spine-mri-policy"
PRESENT = FactStatus.present
NOTE = (
    "Pain for 10 weeks. Pain radiates down the leg below the knee. Weakness of the left EHL 4/5. "
    "Completed 8 weeks of physical therapy. Pain is worse despite therapy. Symptoms persist unchanged. "
    "Considering an epidural steroid injection. Prior spine surgery in 2019. "
    "New urinary retention. Left foot drop. Fever and elevated CRP. History of breast cancer. "
    "Fell from a ladder. Positive Hoffmann sign."
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


def present(phrase: str, region: str | None = None) -> Fact:
    return Fact(status=PRESENT, evidence=[ev(phrase)], regions=[Region(region)] if region else [])


def facts(
    *,
    flags: tuple[str, ...] = (),
    care: float | None = None,
    radic: str | None = None,
    deficit: str | None = None,
    candidacy: bool = False,
    persistent: bool = False,
    worse: bool = False,
    surgery: str | None = None,
    care_ended: date | None = None,
) -> ClinicalFacts:
    """ClinicalFacts with only the named facts present, each quoting NOTE verbatim.

    ``radic`` is radicular pain in a region; ``deficit`` an objective motor, sensory or reflex finding;
    ``persistent`` persistent symptoms only; ``worse`` new or progressing symptoms (also persistent).
    """
    built = ClinicalFacts(extractor="test:hand-built")
    for flag in flags:
        built.red_flags[flag] = present(FLAG_PHRASE[flag])
    if care is not None:
        # dated (the payer policy does not count undated treatment): ongoing to the note date unless it ended
        ended = care_ended or NOTE_DATE
        pt = Modality(
            name="physical_therapy",
            status=PRESENT,
            weeks=care,
            evidence=[ev("8 weeks of physical therapy")],
            started=ended - timedelta(days=round(care * 7)),
            ended=ended,
        )
        built.conservative_care = ConservativeCare(status=PRESENT, modalities=[pt], total_weeks=care)
    if radic:
        built.radiculopathy = present("Pain radiates down the leg below the knee.", radic)
    if deficit:
        built.neuro_deficit = present("Weakness of the left EHL 4/5.", deficit)
    if candidacy:
        built.candidacy = present("Considering an epidural steroid injection.")
    if persistent:
        built.progression = present("Symptoms persist unchanged.")
    if worse:
        built.progression = present("Pain is worse despite therapy.")
        built.worsening = present("Pain is worse despite therapy.")
    if surgery:
        built.prior_surgery = [PriorSurgery(region=Region(surgery), evidence=ev("Prior spine surgery in 2019."))]
    return built


def case(code: str, age: int = 50) -> Case:
    request = Request(patient=Patient(age=age), procedures=[Procedure(code=code)], clinical_notes=NOTE, note_date=NOTE_DATE)
    return Case(id="payer-row", request=request)


@pytest.fixture(scope="module")
def engines(kb_offline: KnowledgeBase) -> dict[str, Engine]:
    return {policy: Engine(kb_offline.criteria(policy, on=NOTE_DATE), kb_offline.resolve) for policy in (ACR, PAYER)}


def decide(engine: Engine, code: str, given: dict[str, Any], age: int = 50) -> CodeDetermination:
    (result,) = engine.decide(case(code, age), facts(**given))
    assert result.code == code
    return result


def row(id: str, code: str, given: dict[str, Any], acr: str, payer: str, **payer_expect: Any) -> Any:
    """One scenario: the code, the facts, the decision under acr-default and under payer-model."""
    return pytest.param(code, given, Decision(acr), Decision(payer), payer_expect, id=id)


B = {"care": 8, "persistent": True, "candidacy": True}  # Pathway B without radicular pain
RADIC_B = B | {"radic": "lumbar", "deficit": "lumbar"}  # Pathway B, radiculopathy with an objective finding
ROWS = [
    # --- where the two criteria sets differ ------------------------------------------------------
    row("thoracic-axial-8wk-failed-care-candidate", "72146", {**B}, "deny", "approve", variant="pt-b"),
    row(
        "lumbar-radicular-pain-no-objective-finding",
        "72148",
        B | {"radic": "lumbar"},
        "approve",
        "deny",
        variant="pl-none",
        missing="objective finding",
    ),
    row(
        "lumbar-radiculopathy-objective-finding-no-candidacy",
        "72148",
        {"care": 8, "persistent": True, "radic": "lumbar", "deficit": "lumbar"},
        "deny",
        "approve",
        variant="pl-b",
    ),
    row("cervical-axial-pathway-b-met", "72141", {**B}, "deny", "approve", variant="pc-b"),
    row(
        "lumbar-72158-pathway-b-after-lumbar-surgery",
        "72158",
        B | {"surgery": "lumbar"},
        "deny",
        "approve",
        variant="pl-b-after-surgery",
    ),
    row(
        "lumbar-pathway-b-care-ended-6-months-ago",
        "72148",
        B | {"care_ended": date(2026, 5, 18)},
        "approve",
        "deny",
        variant="pl-none",
        missing="within the 12 weeks",
    ),
    row(
        "lumbar-pathway-b-care-ended-2-weeks-ago",
        "72148",
        B | {"care_ended": date(2026, 11, 2)},
        "approve",
        "approve",
        variant="pl-b",
    ),
    row("lumbar-xray-no-red-flag-needs-no-authorization", "72100", {}, "deny", "approve", variant="pl-none"),
    # --- where they agree --------------------------------------------------------------------------
    row("lumbar-ct-with-contrast-only-outside-policy", "72132", {**B}, "refer", "refer", variant="pl-b", alternative="72148"),
    row(
        "cervical-radiculopathy-objective-finding-no-candidacy",
        "72141",
        {"care": 8, "persistent": True, "radic": "cervical", "deficit": "cervical"},
        "approve",
        "approve",
        variant="pc-b",
    ),
    row("lumbar-pathway-b-approve", "72148", {**B}, "approve", "approve", variant="pl-b"),
    row("lumbar-radiculopathy-objective-finding", "72148", {**RADIC_B}, "approve", "approve", variant="pl-b"),
    row(
        "lumbar-radicular-pain-care-no-candidacy",
        "72148",
        {"care": 8, "persistent": True, "radic": "lumbar"},
        "deny",
        "deny",
        variant="pl-none",
        missing="surgery or an intervention",
    ),
    row("lumbar-4wk-care", "72148", B | {"care": 4}, "deny", "deny", missing="6 weeks"),
    row(
        "lumbar-improving-no-persistence",
        "72148",
        {"care": 8, "candidacy": True},
        "deny",
        "deny",
        missing="persistent or progressive",
    ),
    row("thoracic-axial-care-no-candidacy", "72146", {"care": 8, "persistent": True}, "deny", "deny", variant="pt-none"),
    row("cervical-axial-no-care-alt-xray", "72141", {}, "deny", "deny", variant="pc-none", alternative="72040"),
    row("cervical-axial-xray-first", "72040", {}, "approve", "approve", variant="pc-none"),
    row("cervical-radicular-no-care-no-xray-suggestion", "72141", {"radic": "cervical"}, "deny", "deny", variant="pc-radicular"),
    row("lumbar-72158-no-contrast-indication-alt-72148", "72158", {**B}, "deny", "deny", variant="pl-b", alternative="72148"),
    row(
        "prior-lumbar-surgery-new-symptoms-72158",
        "72158",
        {"worse": True, "surgery": "lumbar"},
        "approve",
        "approve",
        variant="pl-c",
    ),
    row(
        "prior-cervical-surgery-lumbar-request",
        "72148",
        {"worse": True, "surgery": "cervical"},
        "deny",
        "deny",
        variant="pl-none",
    ),
    row("red-flag-cauda-equina-72148", "72148", {"flags": ("cauda_equina",)}, "approve", "approve", variant="pl-a-cauda-equina"),
    row("red-flag-cauda-equina-72158", "72158", {"flags": ("cauda_equina",)}, "approve", "approve", variant="pl-a-cauda-equina"),
    row(
        "red-flag-infection-72157", "72157", {"flags": ("infection",)}, "approve", "approve", variant="pt-a-infection-malignancy"
    ),
    row(
        "red-flag-malignancy-72156",
        "72156",
        {"flags": ("malignancy",)},
        "approve",
        "approve",
        variant="pc-a-infection-malignancy",
    ),
    row("red-flag-myelopathy-72141", "72141", {"flags": ("myelopathy",)}, "approve", "approve", variant="pc-a-myelopathy"),
    row("red-flag-myelopathy-72157", "72157", {"flags": ("myelopathy",)}, "approve", "approve", variant="pt-a-myelopathy"),
    row("red-flag-fracture-72148", "72148", {"flags": ("fracture",)}, "approve", "approve", variant="pl-a-fracture"),
    row(
        "red-flag-deficit-72148", "72148", {"flags": ("progressive_neuro_deficit",)}, "approve", "approve", variant="pl-a-deficit"
    ),
    row(
        "red-flag-fracture-72158-refer-not-deny",
        "72158",
        {"flags": ("fracture",)},
        "refer",
        "refer",
        variant="pl-a-fracture",
        alternative="72148",
    ),
    row(
        "red-flag-infection-contrast-only-72149",
        "72149",
        {"flags": ("infection",)},
        "refer",
        "refer",
        variant="pl-a-infection-malignancy",
        alternative="72148",
    ),
    row("myelopathy-does-not-bear-on-lumbar", "72148", {"flags": ("myelopathy",)}, "deny", "deny", variant="pl-none"),
    row("unknown-code-70551", "70551", {**B}, "refer", "refer"),
    row("spinal-mra-72159-outside-policy", "72159", {"flags": ("myelopathy",)}, "refer", "refer"),
]


@pytest.mark.parametrize(("code", "given", "acr", "payer", "payer_expect"), ROWS)
def test_decision_under_both_criteria_sets(
    engines: dict[str, Engine], code: str, given: dict[str, Any], acr: Decision, payer: Decision, payer_expect: dict[str, Any]
) -> None:
    under_acr = decide(engines[ACR], code, given)
    under_payer = decide(engines[PAYER], code, given)
    assert under_acr.decision == acr, under_acr.variant_id
    assert under_payer.decision == payer, under_payer.variant_id
    if "variant" in payer_expect:
        assert under_payer.variant_id == payer_expect["variant"]
    assert under_payer.alternative_code == payer_expect.get("alternative")
    if "missing" in payer_expect:
        missing = under_payer.missing_documentation
        assert any(payer_expect["missing"] in m for m in missing), missing


@pytest.mark.parametrize(("code", "given", "acr", "payer", "payer_expect"), ROWS)
def test_payer_determinations_cite_the_policy_verbatim(
    engines: dict[str, Engine],
    kb_offline: KnowledgeBase,
    code: str,
    given: dict[str, Any],
    acr: Decision,
    payer: Decision,
    payer_expect: dict[str, Any],
) -> None:
    d = decide(engines[PAYER], code, given)
    if d.topic_id is None:  # outside the knowledge base: no criteria, no citations
        assert d.decision == Decision.refer and d.criteria == [] and d.citations == []
        return
    cited = [f.citation for f in d.criteria if f.citation] + d.citations
    assert cited and all(c is not None for c in cited)
    for citation in cited:
        chunk = kb_offline.corpus.chunk(citation.chunk_id)
        assert chunk is not None and citation.quote in chunk.text
        assert chunk.document_id == DOCUMENT
    for finding in d.criteria:
        for q in finding.note_quotes:
            assert q.start is not None and q.end is not None and NOTE[q.start : q.end] == q.text


def test_patients_under_18_are_outside_the_payer_policy(engines: dict[str, Engine]) -> None:
    under_acr = decide(engines[ACR], "72148", B, age=16)  # the ACR topics describe adults too
    assert under_acr.decision == Decision.refer and "under 18" in under_acr.rationale
    under_payer = decide(engines[PAYER], "72148", B, age=16)
    assert under_payer.decision == Decision.refer and under_payer.topic_id is None
    assert decide(engines[PAYER], "72148", B, age=18).decision == Decision.approve


@pytest.mark.parametrize("flag", RED_FLAG_IDS)
def test_a_red_flag_bearing_on_the_region_never_yields_deny_under_payer(engines: dict[str, Engine], flag: str) -> None:
    criteria = engines[PAYER].criteria
    for code, info in criteria.codes.codes.items():
        d = decide(engines[PAYER], code, {"flags": (flag,)})
        if any(flag in t.red_flags for t in criteria.topics_for(info.region)):
            assert d.decision != Decision.deny, f"{flag} + {code} -> {d.variant_id}"
            assert flag in d.red_flags_present
        else:
            assert flag not in d.red_flags_present


# --- the criteria set itself ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def payer(kb_offline: KnowledgeBase) -> CriteriaSet:
    # kb.criteria() refuses to load a criteria set with any quote not found verbatim in its document.
    return kb_offline.criteria(PAYER, on=NOTE_DATE)


def test_payer_policy_is_listed_and_loads(kb_offline: KnowledgeBase, payer: CriteriaSet) -> None:
    assert {ACR, PAYER} <= set(kb_offline.policies())
    assert payer.policy.version == "2026.3"
    assert payer.policy.effective == date(2026, 11, 1)
    assert [t.id for t in payer.topics] == ["payer-lumbar", "payer-thoracic", "payer-cervical"]
    assert {t.document for t in payer.topics} == {DOCUMENT}


def test_every_payer_cite_resolves_to_the_payer_policy(kb_offline: KnowledgeBase, payer: CriteriaSet) -> None:
    for topic in payer.topics:
        cites = [c.cite for c in topic.criteria if c.cite] + [v.cite for v in topic.variants]
        assert cites
        for cite in cites:
            citation = kb_offline.resolve(cite, topic.document)
            assert citation is not None, f"{topic.id}: {cite.quote!r}"
            chunk = kb_offline.corpus.chunk(citation.chunk_id)
            assert chunk is not None and cite.quote in chunk.text
            assert chunk.document_id == DOCUMENT


def test_payer_topics_cover_every_region_and_flag_mapping(payer: CriteriaSet) -> None:
    for region in Region:
        (topic,) = payer.topics_for(region)
        assert topic.variant(topic.approval_pathway).kind == "pathway"
        assert sum(v.kind == "default" for v in topic.variants) == 1
        assert ("cauda_equina" in topic.red_flags) == (region == Region.lumbar)
        assert ("myelopathy" in topic.red_flags) == (region != Region.lumbar)
