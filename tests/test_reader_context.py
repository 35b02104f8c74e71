"""The reader's context, one phrase per row: sections, normal findings, forms and questions, other
experiencers, resolved history, chronic risk factors, exam grades and diagnosis codes.

Wording here is new (not copied from any eval case); each row names the error kind it guards.
"""

from __future__ import annotations

from datetime import date

import pytest

from agent.cases.model import Case
from agent.facts.codes import flag_codes, flag_of
from agent.facts.extract import extract_facts
from agent.facts.sections import find_sections


def case_with(note: str, *, age: int = 55, diagnoses: list[str] | None = None) -> Case:
    return Case.model_validate(
        {
            "id": "t",
            "request": {
                "patient": {"age": age, "sex": "male"},
                "procedures": [{"code": "72148"}],
                "diagnoses": diagnoses or [],
                "note_date": date(2026, 10, 1),
                "clinical_notes": note,
            },
        }
    )


def flags(note: str, **kwargs: object) -> set[str]:
    return set(extract_facts(case_with(note, **kwargs)).present_flags())  # type: ignore[arg-type]


CONTEXT_ROWS = [
    # sections: family history in every heading style
    ("family heading inline", "Low back pain x 3 wks.\nFAMILY HX: positive for pancreatic cancer, father.", set()),
    ("family heading alone", "Back pain.\n\nFamily History\nColon carcinoma (uncle), lymphoma (aunt).\n\nExam: normal.", set()),
    (
        "family mid-line run-on",
        "Pain for 2 weeks. FAMILY HISTORY:, Positive for prostate cancer. SOCIAL HISTORY:, Nonsmoker.",
        set(),
    ),
    (
        "family section ends at next heading",
        "FHx: sister, melanoma.\nPMH: renal cell carcinoma 2019, nephrectomy.",
        {"malignancy"},
    ),
    ("trailing 'in her family'", "Breast cancer, stroke and diabetes in her family.", set()),
    ("spouse's cancer", "She is the caregiver for her husband, who has metastatic lung cancer.", set()),
    # past history: resolved deficits and illnesses
    ("resolved foot drop in PMH", "PMH: right foot drop 2015, fully recovered; hypertension.", set()),
    ("remote fever recovered", "Admitted 2021 with pneumonia and high fevers, recovered completely.", set()),
    ("historical foot drop not current", "Past medical history: L5 radiculopathy with foot drop after 2012 surgery.", set()),
    # chronic risk factors in the history are current
    ("dialysis in PMH", "PMH: end-stage renal disease on hemodialysis MWF.\nNew low back pain for 3 weeks.", {"infection"}),
    ("transplant drug in PMH", "Past medical history: liver transplant 2018 on tacrolimus.", {"infection"}),
    ("osteoporosis in PMH", "PMH: osteoporosis, on alendronate.", {"fracture"}),
    ("short prednisone burst", "Took prednisone 20 mg daily x 5 days last month.", set()),
    ("long-term prednisone", "On long-term prednisone for lupus.", {"fracture"}),
    # normal findings are not findings
    ("downgoing toes", "Plantar responses downgoing bilaterally.", set()),
    ("babinski flexor", "Babinski: flexor on both sides.", set()),
    ("hoffmann normal", "Hoffmann sign normal bilaterally.", set()),
    ("hoffmann absent", "Hoffmann absent.", set()),
    ("reflex grade 3/5 is not weakness", "Knee jerks 3/5 reflexes symmetric per the outside form.", set()),
    # forms and questions state nothing
    ("unchecked box", "Red flags reviewed: [ ] malignancy [ ] fever [ ] trauma", set()),
    ("checked no", "Fever or chills: [ ] yes [x] no", set()),
    ("question to provider", "Please document strength on a 0/5 scale for the left ankle?", set()),
    ("request form prompt", "Please provide ESR and CRP results if available.", set()),
    ("call 911 precaution", "Told to call 911 for loss of bowel or bladder control.", set()),
    # document titles are not findings
    ("title words", "PT PROGRESS NOTE\nPatient tolerating exercises.", set()),
    # exam grades read as numbers
    ("side-by-side grade", "Strength R/L: tibialis anterior 2/3, EHL 3/3.", {"progressive_neuro_deficit"}),
    ("side-by-side full", "Strength R/L: hip flexors 5/5, quads 5/5.", set()),
    ("long-standing grade is a known deficit", "Right tibialis anterior 2/5, residual from a 2009 crush, stable since.", set()),
    ("old grade now worse is a flag", "Left EHL 3/5, chronic from polio, worse this month.", {"progressive_neuro_deficit"}),
    ("reflex pair is not a strength grade", "Knee jerks 2+/2+, ankle jerks 1+/1+, Achilles 2+/2+.", set()),
    (
        "relative as reporter",
        "His wife reports his right hand has become progressively weaker since spring.",
        {"progressive_neuro_deficit"},
    ),
    ("paraparesis", "Exam shows a spastic paraparesis with a sensory level.", {"progressive_neuro_deficit", "myelopathy"}),
    ("numbered weight loss", "He describes a 15-lb weight loss over four months and poor appetite.", {"malignancy"}),
    ("intentional weight loss", "Pleased with a 20 lb weight loss from dieting since January.", set()),
    ("panel negative far from the term", "HIV, hepatitis B and C and Lyme serologies were all negative.", set()),
    ("falls screen negative", "Fall risk screen today: no falls this year, walks without aid.", set()),
    ("trauma sparing the spine", "Rollover crash in 2011 with a broken femur, no spinal injury.", set()),
    ("thrown from a horse", "She was thrown from her horse this morning and has midline neck pain.", {"fracture"}),
    ("hyperreflexia by grade", "Reflexes: 3+ at biceps and knees bilaterally, with spread.", {"myelopathy"}),
    ("4+/5 is strength not reflex", "Biceps 4+/5 on the left; reflexes 2+ symmetric.", set()),
    ("a scapular grade is not a deficit", "MMT: middle trap 4-/5 L, rhomboids 4/5; deep neck flexors 3/5.", set()),
    (
        "weakness which has been worsening",
        "Left hand weakness, which had been steadily worsening since Friday.",
        {"progressive_neuro_deficit"},
    ),
    (
        "severity of neurologic symptoms",
        "Given the severity of her neurological deficits, surgery was advised.",
        {"progressive_neuro_deficit"},
    ),
    ("legs became weaker", "Over the night his legs became much weaker.", {"progressive_neuro_deficit"}),
    ("weaker than recorded", "Hip flexion 4-/5, weaker than the ED physician documented.", {"progressive_neuro_deficit"}),
    ("progressive proximal weakness", "Progressive proximal weakness of both arms since May.", {"progressive_neuro_deficit"}),
    ("new without weakness", "New back pain without weakness.", set()),
    ("severe weakness", "Severe left S1 weakness after the lifting injury.", {"progressive_neuro_deficit"}),
    ("gait impairment", "Slowly progressive gait impairment over a year; she has widened her base.", {"myelopathy"}),
    ("normal gait is not impairment", "Gait: normal, narrow base, tandem intact.", set()),
    ("has to push to pass urine", "Since last night he has to push to pass urine.", {"cauda_equina"}),
    ("both legs numb", "Both legs feel heavy and numb since yesterday.", {"cauda_equina"}),
    ("wobbly legs", "Her legs have been wobbly for two days; she holds the wall.", {"myelopathy"}),
    ("no difficulty voiding", "No difficulty voiding; legs steady.", set()),
    ("clumsy hand", "Her right hand has become stiff and clumsy over a month.", {"myelopathy"}),
    # questionnaire answers written after the item
    (
        "questionnaire answer no",
        "Intake form\n- Chills or sweats at night: **No**\n- Trouble holding urine: No (since 2020)",
        set(),
    ),
    ("questionnaire answer yes", "Intake form\n- New urinary incontinence: **Yes**", {"cauda_equina"}),
    ("no change is not an answer", "Bladder control: no change; new urinary retention today.", {"cauda_equina"}),
    ("questionnaire answers after a dash", "Intake: leg weakness - No; saddle numbness - no; night fevers - No.", set()),
    ("a dash answer yes", "Intake: night fevers - yes; saddle numbness - no.", {"infection"}),
    ("questionnaire answer none in bold", "Screening\n- Night sweats, chills: **none**", set()),
    # forms: empty boxes after their item, and a box before a suspicion
    ("box after item", "Screen: trauma [ ]; malignancy [ ]; temp > 38 [ ].", set()),
    ("box after item, checked one kept", "Checklist: steroids [ ]; fever [x]; cancer [ ].", {"infection"}),
    ("box before item, checked one kept", "[x] fever   [ ] cancer", {"infection"}),
    ("box before a suspicion", "Indication  [ ] Possible cauda equina   [ ] Known malignancy", set()),
    ("a suspicion without a box", "Possible early cauda equina; urgent imaging.", {"cauda_equina"}),
    ("neg colon list", "Neg: night sweats, weight loss, saddle paresthesia.", set()),
    # return precautions and risk statements are not findings
    ("ED for precautions", "3. To the ER right away for leg weakness, saddle paresthesia or fevers.", set()),
    (
        "seen in the emergency department is a presentation",
        "Seen in the emergency department for fevers and back pain.",
        {"infection"},
    ),
    ("call for precautions", "Call back if fever over 101 or the incision drains.", set()),
    ("a risk is not a finding", "Yearly dermatology visit given melanoma risk from sun exposure.", set()),
    ("at risk for", "Diabetic, so at higher risk for spinal infection; afebrile, WBC normal.", set()),
    (
        "a fracture probability is not a fracture",
        "FRAX: 10-year probability of hip fracture 2%, of a major osteoporotic fracture 9%.",
        set(),
    ),
    ("a fracture assessment names a test", "Vertebral fracture assessment on the DXA: no deformity seen.", set()),
    ("last injection use long ago", "Opioid use disorder on buprenorphine; last injection drug use 03/2019.", set()),
    ("last use this month", "He says his last IV heroin use was 09/20/2026.", {"infection"}),
    ("injection drug use without a last date", "Injection drug use, ongoing per patient.", {"infection"}),
    ("a table answer no", "| Symptom | Answer |\n|---|---|\n| Night fevers | **No** |\n| Bladder leakage | no |", set()),
    ("a table answer yes", "| Symptom | Answer |\n|---|---|\n| Night fevers | Yes |", {"infection"}),
    ("a table cell ends a negation", "| ibuprofen | no effect | fevers to 38.9 since Monday |", {"infection"}),
    ("a skin basal cell carcinoma is not a spine cancer risk", "Basal cell carcinoma of the nose excised 2022.", set()),
    ("a carcinoma still counts", "Renal carcinoma resected 2022; new back pain.", {"malignancy"}),
    ("a crash in the distant past", "He was thrown from a motorbike in the remote past; back ache 2 weeks.", set()),
    ("a crash years ago", "Rollover crash eleven years ago, no injuries then; back ache 2 weeks.", set()),
    ("a crash this week", "Rollover crash on Monday; back pain since.", {"fracture"}),
    ("risks of a procedure", "We discussed the risks of incontinence and urinary retention after cryotherapy.", set()),
    ("FRAX with a colon", "FRAX 10-year probability: major osteoporotic fracture 7%, hip 0.9%.", set()),
    ("an infection months ago", "Ten months ago she spent two weeks in hospital with discitis; neck ache now.", set()),
    ("a healed osteomyelitis", "Past toe amputation for osteomyelitis, healed.", set()),
    ("an infection this month", "Discitis diagnosed two weeks ago, still on IV cefazolin.", {"infection"}),
    ("hay fever", "Pain began with a sneezing fit during a hay fever flare.", set()),
    ("a quoted question", 'Intake asked: "Any fevers or weight loss?"', set()),
    ("fall risk is not a fall", "Timed up-and-go 14 s, fall risk; fall-prevention handout.", set()),
    # measurements: an old result, and a fever nobody measured
    ("an old inflammatory marker", "Rheumatology 03/14/2026 for giant cell arteritis: CRP 41 mg/L then.\nBack ache 2 wk.", set()),
    ("a marker this week", "Labs 09/28/2026: CRP 41 mg/L. Back ache 2 wk.", {"infection"}),
    ("an undated marker counts", "CRP 41 mg/L, ESR 55. Back ache 2 wk.", {"infection"}),
    ("a subjective fever measured normal", "Felt subjective fevers last night. Vitals: T 36.9 C, HR 80.", set()),
    ("a low-grade fever with an afebrile exam", "Low-grade fever per wife. Exam: afebrile, back tender.", set()),
    ("a subjective fever never measured", "Reports subjective fevers and back pain since Sunday.", {"infection"}),
    ("a low-grade fever, then a febrile one", "Low-grade fever Friday; T 38.6 C in clinic today.", {"infection"}),
    ("a fever without a qualifier stays", "Fevers and chills with the back pain. T 37.2 C in clinic.", {"infection"}),
    (
        "an infection months ago, many words before it",
        "Roughly 8 months ago, while visiting family abroad, he was admitted for 2 weeks and treated for lumbar discitis.",
        set(),
    ),
    # a settled deficit: old and unchanged, or mild
    ("an old unchanged foot drop", "L foot drop since a 2017 fibular fracture, unchanged, uses a brace. Back ache 10 d.", set()),
    ("a mild steppage gait", "Gait: a very mild steppage gait on the right.", set()),
    ("an old foot drop now worse", "Chronic R foot drop since 2018, clearly worse this month.", {"progressive_neuro_deficit"}),
    ("a new foot drop", "Woke with a left foot drop 3 days ago.", {"progressive_neuro_deficit"}),
    (
        "a questionnaire score in a table is not a strength grade",
        '| Arm sensation | "Tingling in both hands at night" | 2 / 3 |\n| Bladder | "Normal" | 3 / 3 |',
        set(),
    ),
    ("side-by-side grades still read", "Tibialis anterior 2/2-, EHL 3/3.", {"progressive_neuro_deficit"}),
    # cord compression in its own words, and a sensory level written out
    ("suspected cord compression", "Impression: suspected cord compression from the known T9 lesion.", {"myelopathy"}),
    ("a cord compression ruled out before", "Her 2025 MRI showed no cord compression.", set()),
    ("a sensory level written out", "Light touch reduced below T8 on both sides.", {"myelopathy"}),
    ("a dermatomal band is not a level", "Allodynia in a band from T7 around to the sternum on the left.", set()),
    # pain-limited strength is not a motor deficit
    ("give-way weakness", "Quads 3/5 on the right with give-way from knee pain.", set()),
    ("pain-limited grade", "Left hip abduction 3/5, pain-limited; otherwise 5/5.", set()),
    ("a true low grade", "Left hip abduction 3/5; otherwise 5/5.", {"progressive_neuro_deficit"}),
    # a review of systems answered with letters, fax furniture, imaging negations
    ("ROS answered N", "Constitutional: fever N, night sweats N. GU: retention N, incontinence N.", set()),
    ("ROS answered Y keeps the item", "Constitutional: fever Y, night sweats N.", {"infection"}),
    ("ROS answered with a minus", "ROS: fever (-), saddle numbness (-).", set()),
    ("a fax page number is not a grade", "Fax from Riverside Spine, p. 2/5; page 3/5 follows.", set()),
    ("a cancer center is a place", "Faxed by the Lakeshore Cancer Institute on behalf of the PCP.", set()),
    ("a finding not evident", "Prior MRI: foraminal narrowing; cord compression is not evident.", set()),
    (
        "an all-caps dictation keeps its negation across lines",
        "HE HAS HAD LOW BACK PAIN FOR 2 WEEKS AFTER MOVING FURNITURE. DENIES FEVER OR CHILLS. NO\n"
        "PERSONAL HISTORY OF MALIGNANCY. NO INTRAVENOUS DRUG USE AND NO RECENT SPINE PROCEDURES.",
        set(),
    ),
    ("a screen answered N between slashes", "Screen: fever N / cancer hx N / IVDU N / trauma N", set()),
    (
        "a dot-leader form answered no",
        "Since last visit:\n  Night fevers ............ [ ] yes  [X] no\n  Cancer found .............. [ ] yes  [X] no",
        set(),
    ),
    (
        "a dot-leader form: a yes stays on its line",
        "Since last visit:\n  Night fevers ............ [X] yes  [ ] no\n  Cancer found .............. [ ] yes  [X] no",
        {"infection"},
    ),
    # a febrile illness the note says is over, with no fever now
    (
        "a fever that stopped, afebrile now",
        "Had a chest infection with fevers to 39 in September; fevers stopped by 09/12.\nExam today: T 36.8 C. Back ache 2 wk.",
        set(),
    ),
    (
        "an old febrile document, afebrile since",
        "=== URGENT CARE 2026-09-03 ===\nT 38.7 C, WBC 14.2, cellulitis of the foot.\n"
        "=== CLINIC 2026-09-30 ===\nAfebrile since 09/06. Back ache 10 days.",
        set(),
    ),
    (
        "a fever that stopped, febrile again now",
        "Fevers stopped by 09/12 after the chest infection.\nToday T 38.6 C with new back pain.",
        {"infection"},
    ),
    ("a fever with no word of it ending", "Fevers to 39 for a week with back pain; T 37.1 C in clinic.", {"infection"}),
    # weight lost on purpose is not unexplained
    ("a diet program's weight loss", "Tried a commercial diet program in 2004 with a 30-pound weight loss.", set()),
    ("weight lost on a GLP-1 drug", "A 22-lb weight loss since spring on tirzepatide; back ache 3 wk.", set()),
    ("the same loss unexplained", "A 22-lb weight loss since spring; back ache 3 wk.", {"malignancy"}),
    ("unintentional weight loss counts", "Unintentional weight loss of 15 lb since June; back ache 3 wk.", {"malignancy"}),
    ("a weight loss over months without trying", "He lost about 12 lb over the last 3 months without trying.", {"malignancy"}),
    ("an ascending weakness", "Ascending leg weakness since Tuesday, now cannot climb stairs.", {"progressive_neuro_deficit"}),
    # an old document's findings, return advice, a suspicion ruled out
    (
        "an outside operative report from years ago",
        "OPERATIVE REPORT - date of surgery 03/02/2017\nPREOPERATIVE DIAGNOSIS: L1 burst fracture with cauda equina syndrome.\n"
        "CLINIC NOTE 09/30/2026\nNeck ache 3 weeks.",
        set(),
    ),
    (
        "a recent ED record keeps its findings",
        "ED RECORD - 09/20/2026\nNew urinary retention, saddle numbness.\nCLINIC NOTE 09/30/2026\nBack pain.",
        {"cauda_equina"},
    ),
    ("return advice in capitals", "RETURN for fever, loss of bladder control or leg weakness.", set()),
    ("a suspicion considered and ruled out", "Cauda equina considered, ruled out clinically - normal tone.", set()),
    ("a date after a visit word is not a grade", "Back pain since lifting (seen in the ED 3/4). Walking fine.", set()),
    ("a questionnaire subscale is not a grade", "STarT Back total 5/9; psychosocial subscale 2/5.", set()),
    ("an old foot drop dated by its year", "Hx: peroneal nerve injury 2015, foot drop. Back ache 2 wk.", set()),
    ("an old foot drop now worse, dated", "Foot drop since 2015, worse in the last month.", {"progressive_neuro_deficit"}),
    ("a FRAX category is not osteoporosis", "FRAX: major osteoporotic 12%, hip 1.9%.", set()),
    # a pronoun that points back to a relative's history
    ("it after a relative's history", "Neck ache 4 wk. My brother had a mass in his chest. It was a lymphoma.", set()),
    ("it after the patient's history", "Neck ache 4 wk. He had a mass removed in 2025. It was a lymphoma.", {"malignancy"}),
    (
        "a relative without a history passes nothing",
        "Back pain 2 wk. His wife drove him in. It is metastatic lung cancer.",
        {"malignancy"},
    ),
]


@pytest.mark.parametrize(("note", "expected"), [r[1:] for r in CONTEXT_ROWS], ids=[r[0] for r in CONTEXT_ROWS])
def test_reader_context(note: str, expected: set[str]) -> None:
    assert flags(note) == expected


CODE_ROWS = [
    ("G83.4", "cauda_equina"),
    ("g834", "cauda_equina"),
    ("M46.26", "infection"),
    ("G06.1", "infection"),
    ("C79.51", "malignancy"),
    ("M80.08XA", "fracture"),
    ("S32.010A", "fracture"),
    ("M47.12", "myelopathy"),
    ("M50.01", "myelopathy"),
    ("M54.16", None),
    ("M51.26", None),
    ("M21.371", None),  # foot drop, acquired: the note says whether it is new or progressing
]


@pytest.mark.parametrize(("code", "flag"), CODE_ROWS, ids=[r[0] for r in CODE_ROWS])
def test_diagnosis_code_flags(code: str, flag: str | None) -> None:
    hit = flag_of(code)
    assert (hit[0] if hit else None) == flag


def test_a_red_flag_code_raises_the_flag_with_its_provenance() -> None:
    facts = extract_facts(case_with("Back pain for two weeks, exam benign.", diagnoses=["M54.5", "G83.4"]))
    fact = facts.red_flags["cauda_equina"]
    assert fact.status == "present" and fact.codes == ["G83.4"]
    assert flag_codes(["M54.5", "G83.4"]) == {"cauda_equina": ["G83.4"]}


SECTION_ROWS = [
    ("inline", "PMH: HTN. FHx: none.", ["past_medical_history", "family_history"]),
    ("alone caps", "PHYSICAL EXAMINATION\nAlert.\n\nIMPRESSION\nStrain.", ["exam", "assessment"]),
    ("soap letters", "S: back pain\nO: tender\nA: strain\nP: PT", ["hpi", "exam", "assessment", "plan"]),
    ("lowercase letters are not headings", "he has a p: value", []),
    (
        "mtsamples run-on",
        "HPI:, Pain. PAST MEDICAL HISTORY:, None. ALLERGIES:, NKDA.",
        ["hpi", "past_medical_history", "allergies"],
    ),
    ("title", "PHYSICAL THERAPY DISCHARGE SUMMARY\nGoals met.", ["title"]),
    ("title with a date", "NEUROSURGERY CONSULT NOTE - 10/02/2026 (self-referred)\nNeck pain.", ["title"]),
]


@pytest.mark.parametrize(("text", "kinds"), [r[1:] for r in SECTION_ROWS], ids=[r[0] for r in SECTION_ROWS])
def test_sections(text: str, kinds: list[str]) -> None:
    assert [s.kind for s in find_sections(text)] == kinds


def test_a_fusion_named_by_its_approach_is_prior_surgery() -> None:
    facts = extract_facts(case_with("She is status post posterior fusion for spondylolisthesis, now new L4 leg pain."))
    assert [s.region for s in facts.prior_surgery] == ["lumbar"]


@pytest.mark.parametrize(
    "note",
    [
        "SPINE SURGERY CONSULT - 09/30/2026 (from PCP)\nMid-back band-like pain for 8 weeks.",
        "Packet: clinic note 11/02; neck surgery clinic letter 10/15; therapy discharge.",
        "She saw the back surgery team on 10/01, who felt she was not a candidate.",
    ],
    ids=["consult-title", "clinic-letter-in-a-contents-list", "surgery-team"],
)
def test_a_surgeon_visit_is_not_a_prior_surgery(note: str) -> None:
    assert extract_facts(case_with(note)).prior_surgery == []


def test_a_named_back_surgery_is_still_a_prior_surgery() -> None:
    assert extract_facts(case_with("Back surgery 2019 for a herniated disc; new leg pain.")).prior_surgery


@pytest.mark.parametrize(
    ("note", "deficit"),
    [
        ("Therapy exam: lower trapezius 4-/5 on the right, serratus anterior 4/5.", "not_documented"),
        ("Core 3+/5; abdominals 4/5; lumbar extensors 4/5.", "not_documented"),
        ("Lower trap 4-/5 R, 4/5 L; serratus 4/5 bilat.", "not_documented"),
        ("Scapular 4/5 bilaterally, but right EHL 4-/5.", "present"),
        ("Left ankle dorsiflexion 4/5.", "present"),
    ],
    ids=["scapular", "core", "trap-both-sides", "scapular-then-ehl", "dorsiflexion"],
)
def test_a_trunk_or_scapular_grade_is_not_a_neurologic_deficit(note: str, deficit: str) -> None:
    assert extract_facts(case_with(note)).neuro_deficit.status == deficit


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ("Brought in after repeatedly falling at home; back pain since.", {"fracture"}),
        ("Keeps falling asleep in his chair; back ache for 2 weeks.", set()),
        ("High fall risk; fall-prevention program; low back ache 2 weeks.", set()),
    ],
    ids=["falling", "falling-asleep", "fall-risk"],
)
def test_falls_at_an_older_age(note: str, expected: set[str]) -> None:
    assert flags(note, age=81) == expected


@pytest.mark.parametrize(
    ("note", "expected"),
    [
        ("Rear-ended at a stop light on March 3, 2019; mid back ache for 3 weeks.", set()),
        ("Motor vehicle accident 06/2022 with whiplash; neck ache for 2 weeks.", set()),
        ("Motor vehicle accident on 09/24/2026; neck pain since.", {"fracture"}),
        ("Rollover crash on 9/24; neck pain since.", {"fracture"}),
    ],
    ids=["crash-2019", "mva-2022", "mva-last-week", "crash-without-year"],
)
def test_trauma_dated_years_before_the_note_is_history(note: str, expected: set[str]) -> None:
    assert flags(note) == expected
