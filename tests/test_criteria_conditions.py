"""The conditions added for payers' own policies (issue 14, part 3), one clinical situation per row:
in-person evaluation and re-evaluation as separate contacts, red flags scoped to the symptoms' region,
the early post-operative window and repeat-imaging intervals."""

from __future__ import annotations

from datetime import date

import pytest

from agent.cases.determination import CriterionStatus
from agent.cases.model import Attachment, Case, Patient, Procedure, Request
from agent.criteria.conditions import Context, bears_on, counts_under
from agent.criteria.model import Condition, Topic
from agent.facts.model import ClinicalFacts, Evidence, Fact, FactStatus, PriorSurgery, Region

MET, NOT_MET, UNDOC = CriterionStatus.met, CriterionStatus.not_met, CriterionStatus.not_documented
NOTE_DATE = date(2026, 9, 15)

TOPIC = Topic.model_validate(
    {
        "id": "t",
        "title": "T",
        "version": "1",
        "regions": ["lumbar", "cervical"],
        "red_flags": ["infection", "malignancy"],
        "red_flag_scope": {"infection": "symptom_region"},
        "approval_pathway": "v",
        "criteria": [],
        "variants": [{"id": "v", "title": "V", "kind": "default", "ratings": {"mri_wo": "UA"}, "cite": {"quote": "0123456789"}}],
    }
)


def case(notes: str, *, attachments: list[Attachment] | None = None, note_date: date | None = NOTE_DATE) -> Case:
    request = Request(
        patient=Patient(age=50),
        procedures=[Procedure(code="72148")],
        clinical_notes=notes,
        note_date=note_date,
        attachments=attachments or [],
    )
    return Case(id="c", request=request)


def outcome(cond: dict[str, object], c: Case, facts: ClinicalFacts | None = None, region: Region = Region.lumbar) -> str:
    ctx = Context(c, facts or ClinicalFacts(extractor="test"), region, TOPIC)
    return ctx.evaluate(Condition.model_validate(cond)).status


VISIT = "Office visit 08/01/2026: low back pain 3 weeks. Strength 5/5, reflexes 2+ and symmetric. Start PT.\n\n"


@pytest.mark.parametrize(
    ("notes", "attachments", "expected"),
    [
        pytest.param(VISIT, None, MET, id="office-visit-with-strength-and-reflexes"),
        pytest.param("Office visit 08/01/2026: back pain, SLR positive on the left.", None, MET, id="straight-leg-raise"),
        pytest.param("Video visit 08/01/2026: back pain, strength 5/5 by self report.", None, NOT_MET, id="video-visit-exam"),
        pytest.param("Telehealth visit 08/01/2026: back pain for 3 weeks, taking ibuprofen.", None, UNDOC, id="no-exam"),
        pytest.param(
            "Back pain, no better.",
            [Attachment(title="Spine consult", date=date(2026, 9, 1), text="Spine consult. Reflexes: 1+ left ankle.")],
            MET,
            id="exam-in-an-attachment",
        ),
    ],
)
def test_in_person_evaluation(notes: str, attachments: list[Attachment] | None, expected: CriterionStatus) -> None:
    assert outcome({"in_person_evaluation": True}, case(notes, attachments=attachments)) == expected


def test_in_person_evaluation_without_any_date_is_not_documented() -> None:
    assert outcome({"in_person_evaluation": True}, case("Strength 5/5.", note_date=None)) == UNDOC


@pytest.mark.parametrize(
    ("notes", "after_weeks", "expected"),
    [
        pytest.param(
            VISIT + "Telehealth follow-up 09/15/2026: no better after 6 weeks of PT.", 6, MET, id="telehealth-6-weeks-later"
        ),
        pytest.param(VISIT + "Phone call 09/01/2026: pain the same.", 6, NOT_MET, id="contact-too-soon"),
        pytest.param(VISIT + "Phone call 09/01/2026: pain the same.", 0, MET, id="any-later-contact"),
        pytest.param("PT x 6 weeks, no better. Strength 5/5 throughout.", 0, NOT_MET, id="one-visit-only"),
        pytest.param(
            "=== PCP 07/21/2026 ===\nLBP. SLR negative.\n=== Spine consult 9/14/2026 ===\nPersistent pain.",
            6,
            MET,
            id="dated-section-headers",
        ),
    ],
)
def test_reevaluation_is_a_separate_contact(notes: str, after_weeks: float, expected: CriterionStatus) -> None:
    assert outcome({"reevaluation": {"after_weeks": after_weeks}}, case(notes)) == expected


def test_reevaluation_without_dates_is_not_documented() -> None:
    assert outcome({"reevaluation": {}}, case("No better after PT.", note_date=None)) == UNDOC


def flagged(flag: str, regions: list[Region], symptoms: list[Region]) -> ClinicalFacts:
    facts = ClinicalFacts(extractor="test", symptom_regions=symptoms)
    facts.red_flags[flag] = Fact(status=FactStatus.present, regions=regions)
    return facts


@pytest.mark.parametrize(
    ("flag", "placed", "symptoms", "region", "bears"),
    [
        pytest.param("infection", [], [Region.lumbar], Region.lumbar, True, id="fever-low-back-pain-lumbar"),
        pytest.param("infection", [], [Region.lumbar], Region.cervical, False, id="fever-low-back-pain-not-cervical"),
        pytest.param("infection", [], [], Region.cervical, True, id="no-symptom-region-safe-reading"),
        pytest.param("infection", [Region.cervical], [Region.lumbar], Region.cervical, True, id="placed-wins"),
        pytest.param("malignancy", [], [Region.lumbar], Region.cervical, True, id="unscoped-flag-every-region"),
    ],
)
def test_red_flag_scoped_to_symptom_region(
    flag: str, placed: list[Region], symptoms: list[Region], region: Region, bears: bool
) -> None:
    assert bears_on(flagged(flag, placed, symptoms), TOPIC, region, flag) is bears


def test_scope_must_name_a_flag_of_the_topic() -> None:
    with pytest.raises(ValueError, match="red_flag_scope"):
        Topic.model_validate({**TOPIC.model_dump(), "red_flag_scope": {"fracture": "symptom_region"}})


def surgery(region: Region | None, weeks_ago: float | None) -> ClinicalFacts:
    evidence = Evidence(quote="discectomy", start=0, end=10)
    return ClinicalFacts(extractor="test", prior_surgery=[PriorSurgery(region=region, evidence=evidence, weeks_ago=weeks_ago)])


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        pytest.param(surgery(Region.lumbar, 3), MET, id="discectomy-3-weeks-ago"),
        pytest.param(surgery(Region.lumbar, 6), MET, id="on-the-window-edge"),
        pytest.param(surgery(Region.lumbar, 300), NOT_MET, id="fusion-years-ago"),
        pytest.param(surgery(Region.lumbar, None), UNDOC, id="undated-surgery"),
        pytest.param(surgery(Region.cervical, 2), NOT_MET, id="surgery-in-another-region"),
        pytest.param(ClinicalFacts(extractor="test"), NOT_MET, id="no-surgery"),
    ],
)
def test_early_post_operative_window(facts: ClinicalFacts, expected: CriterionStatus) -> None:
    assert outcome({"surgery_within_weeks": 6}, case("Back pain."), facts) == expected


def imaging(quote: str, regions: list[Region] | None = None) -> ClinicalFacts:
    fact = Fact(status=FactStatus.present, evidence=[Evidence(quote=quote, start=0, end=len(quote))], regions=regions or [])
    return ClinicalFacts(extractor="test", prior_imaging=fact)


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        pytest.param(imaging("MRI of the lumbar spine 2 months ago showed an L4-5 protrusion"), MET, id="mri-2-months-ago"),
        pytest.param(imaging("MRI lumbar spine 03/02/2026: L5-S1 disc bulge"), NOT_MET, id="mri-28-weeks-ago"),
        pytest.param(imaging("MRI in the past showed degenerative change"), UNDOC, id="undated-mri"),
        pytest.param(imaging("MRI 2 months ago", [Region.cervical]), NOT_MET, id="other-region"),
        pytest.param(ClinicalFacts(extractor="test"), UNDOC, id="no-prior-imaging"),
    ],
)
def test_repeat_imaging_interval(facts: ClinicalFacts, expected: CriterionStatus) -> None:
    assert outcome({"prior_imaging_within_weeks": 26}, case("Back pain."), facts) == expected


def test_a_treatment_date_range_at_a_line_start_is_not_a_visit() -> None:
    notes = "Seen today for leg pain. He did physical therapy\n08/10/2026-10/05/2026 (8 weeks) with no improvement. Reflexes 1+."
    assert outcome({"reevaluation": {}}, case(notes)) == NOT_MET


# --- red_flag_grades: "new weakness graded 3/5 or worse" (payer-model), one sentence per row ------------

GRADED = Topic.model_validate(
    {
        **TOPIC.model_dump(),
        "red_flags": ["progressive_neuro_deficit"],
        "red_flag_scope": {},
        "red_flag_grades": {
            "progressive_neuro_deficit": {"motor_grade_max": 3, "graded": ["new"], "always": ["foot drop", "bilateral"]}
        },
    }
)


def weakness(sentence: str, term: str, codes: list[str] | None = None) -> ClinicalFacts:
    facts = ClinicalFacts(extractor="test")
    evidence = Evidence(quote=sentence, start=0, end=len(sentence), term=term)
    facts.red_flags["progressive_neuro_deficit"] = Fact(status=FactStatus.present, evidence=[evidence], codes=codes or [])
    return facts


@pytest.mark.parametrize(
    ("sentence", "term", "counts"),
    [
        pytest.param("New left ankle weakness, graded 4+/5.", "New left ankle weakness", False, id="new-4-plus"),
        pytest.param("New weakness of hip flexion 4-/5 on the left.", "New weakness", False, id="new-4-minus"),
        pytest.param("New left ankle weakness 3+/5.", "New left ankle weakness", False, id="new-3-plus-is-better-than-3"),
        pytest.param("New left ankle weakness 3/5.", "New left ankle weakness", True, id="new-3"),
        pytest.param("New weakness: EHL 4/5, ankle dorsiflexion 2/5.", "New weakness", True, id="weakest-grade-decides"),
        pytest.param("New left ankle weakness since Monday.", "New left ankle weakness", True, id="ungraded-counts"),
        pytest.param("New bilateral leg weakness, 4/5 throughout.", "New bilateral leg weakness", True, id="bilateral"),
        pytest.param("Left foot drop; new EHL weakness 4/5.", "foot drop", True, id="foot-drop"),
        pytest.param("Worsening left ankle weakness, now 4/5.", "Worsening left ankle weakness", True, id="worsening-not-graded"),
        pytest.param("Pain score 4/10 with new calf weakness.", "new calf weakness", True, id="pain-score-is-no-grade"),
    ],
)
def test_graded_red_flag(sentence: str, term: str, counts: bool) -> None:
    facts = weakness(sentence, term)
    assert counts_under(facts, GRADED, "progressive_neuro_deficit") is counts
    assert bears_on(facts, GRADED, Region.lumbar, "progressive_neuro_deficit") is counts
    assert counts_under(facts, TOPIC.model_copy(update={"red_flags": ["progressive_neuro_deficit"]}), "progressive_neuro_deficit")


def test_a_diagnosis_code_counts_whatever_the_grade() -> None:
    facts = weakness("New left ankle weakness, graded 4+/5.", "New left ankle weakness", codes=["G83.4"])
    assert counts_under(facts, GRADED, "progressive_neuro_deficit")


def test_a_graded_out_flag_is_explained_not_placed_elsewhere() -> None:
    facts = weakness("New left ankle weakness, graded 4+/5.", "New left ankle weakness")
    ctx = Context(case("x"), facts, Region.lumbar, GRADED)
    got = ctx.evaluate(Condition.model_validate({"red_flag": "any"}))
    assert got.status == NOT_MET and "graded better than 3/5" in got.explanation


def test_grades_must_name_a_flag_of_the_topic() -> None:
    with pytest.raises(ValueError, match="red_flag_grades"):
        Topic.model_validate({**GRADED.model_dump(), "red_flag_grades": {"fracture": {"motor_grade_max": 3, "graded": ["new"]}}})


@pytest.mark.parametrize(("value", "expected"), [("met", MET), ("not_met", NOT_MET)])
def test_always_is_a_constant(value: str, expected: CriterionStatus) -> None:
    assert outcome({"always": value}, case("anything")) == expected


FRACTURE_ON_FILMS = {"same_sentence": [{"red_flag": "fracture"}, {"fact": "prior_imaging"}]}


def films(flag_span: tuple[int, int] | None, imaging_span: tuple[int, int] | None) -> ClinicalFacts:
    facts = ClinicalFacts(extractor="test")
    if flag_span:
        facts.red_flags["fracture"] = Fact(
            status=FactStatus.present, evidence=[Evidence(quote="f", start=flag_span[0], end=flag_span[1])]
        )
    if imaging_span:
        facts.prior_imaging = Fact(
            status=FactStatus.present, evidence=[Evidence(quote="i", start=imaging_span[0], end=imaging_span[1])]
        )
    return facts


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        pytest.param(films((0, 60), (0, 60)), MET, id="x-rays-showed-a-compression-fracture"),
        pytest.param(films((0, 30), (31, 80)), NOT_MET, id="fall-then-old-normal-x-rays"),
        pytest.param(films((0, 30), None), UNDOC, id="fracture-no-imaging"),
        pytest.param(films(None, (0, 30)), UNDOC, id="imaging-no-fracture"),
    ],
)
def test_same_sentence(facts: ClinicalFacts, expected: CriterionStatus) -> None:
    topic = TOPIC.model_copy(update={"red_flags": ["fracture"], "red_flag_scope": {}})
    ctx = Context(case("x"), facts, Region.lumbar, topic)
    assert ctx.evaluate(Condition.model_validate(FRACTURE_ON_FILMS)).status == expected


def test_same_sentence_needs_two_parts() -> None:
    with pytest.raises(ValueError):
        Condition.model_validate({"same_sentence": [{"red_flag": "fracture"}]})
