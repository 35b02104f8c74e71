"""Fidelity of the acr-default criteria set to its sources (issue 15).

Two tables:

* **ratings**: every rating line of the ACR guideline texts (variant x procedure with a CPT code) is a
  row checked against the criteria files, and every rating in the criteria files must have such a
  source line (a variant that borrows another's ratings says so with ``rated_as``);
* **rules**: every rule of evals/LABELING.md (each list item that is not an example, and each
  numbered section) has at least one probe note in new wording, reviewed by the real reader and
  engine; a rule with no row fails ``test_every_labeling_rule_has_a_probe``.

Rows the engine cannot pass yet are strict xfails with the reason: ``reader: ...`` for facts the
reader (issue 10) must supply; they flip to failures when the reader lands, so the mark is removed.
"""

from __future__ import annotations

import pytest

from agent.criteria.engine import Engine
from agent.criteria.model import CriteriaSet
from tests.fidelity_support import ROOT, Probe, SourceRating, check, source_ratings, text_rules

DOCUMENTS = {
    "acr-lbp": "acr-low-back-pain",
    "acr-thoracic": "acr-thoracic-back-pain",
    "acr-cervical": "acr-cervical-pain",
    "acr-myelopathy": "acr-myelopathy",
}
# Text variants no criteria variant encodes, with the reason (the row is a strict xfail).
NOT_ENCODED: dict[tuple[str, int], str] = {}
# Text variants judged by another variant with the same ratings.
SAME_AS = {("acr-myelopathy", 1): "my-v2"}  # acute-onset myelopathy: same ratings as chronic (Variant 2)


def _codes() -> CriteriaSet:
    from agent.criteria.model import load_criteria_set
    from tests.fidelity_support import GUIDELINES

    return load_criteria_set([GUIDELINES], "acr-default")


_SET = _codes()
RATING_ROWS = [
    pytest.param(r, id=r.id, marks=[pytest.mark.xfail(strict=True, reason=NOT_ENCODED[(r.document, r.variant)])])
    if (r.document, r.variant) in NOT_ENCODED
    else pytest.param(r, id=r.id)
    for document in DOCUMENTS.values()
    for r in source_ratings(document, _SET.codes)
]


@pytest.mark.parametrize("source", RATING_ROWS)
def test_source_rating_is_encoded(criteria: CriteriaSet, source: SourceRating) -> None:
    topic = next(t for t in criteria.topics if DOCUMENTS[t.id] == source.document)
    same = SAME_AS.get((source.document, source.variant))
    variants = [v for v in topic.variants if source.variant in (v.number, v.rated_as) or v.id == same]
    assert variants, f"no criteria variant encodes {source.line!r}"
    for v in variants:
        assert v.ratings.get(source.procedure) == source.rating, f"{v.id}: {source.line}"  # type: ignore[call-overload]  # literal keys


def test_every_encoded_rating_has_a_source_line(criteria: CriteriaSet) -> None:
    missing = []
    for topic in criteria.topics:
        sources = {(r.variant, r.procedure) for r in source_ratings(DOCUMENTS[topic.id], criteria.codes)}
        aliases = {v: n for (d, n), v in SAME_AS.items() if d == DOCUMENTS[topic.id]}
        for v in topic.variants:
            number = v.rated_as or v.number or aliases.get(v.id)
            missing += [f"{v.id}/{p}" for p in v.ratings if (number, p) not in sources]
    assert missing == []


def test_departures_are_recorded_where_the_set_leaves_its_source(criteria: CriteriaSet) -> None:
    """Each variant that borrows ratings, and each policy gate, names a recorded departure."""
    for topic in criteria.topics:
        for v in topic.variants:
            if v.rated_as is not None:
                assert v.departures, f"{v.id} borrows Variant {v.rated_as}'s ratings without a departure"
            if v.policy is not None:
                assert topic.departure(v.policy.departure).summary


# --- probe notes: every rule of LABELING.md --------------------------------------------------------

LBP = "Low back pain"
V3_CARE = (
    "PT started 07/20/2026 and continued through 09/28/2026; naproxen 500 mg bid since 07/15/2026. "
    "Re-evaluated today: pain persists, radiating down the left leg. Plan: L5-S1 ESI scheduled."
)
PROBES = [
    # rule 1: what counts as a red flag
    Probe(
        "fever-in-vitals",
        ("1 | (section)", "1 | infection temperature >= 38.0 c 100.4"),
        f"{LBP} for 12 days after shoveling snow. Vitals: T 38.5 C, HR 104.",
        {"72148": "approve"},
    ),
    Probe(
        "injects-heroin",
        ("1 | infection temperature >= 38.0 c 100.4",),
        f"{LBP} x 10 days. Injects heroin most days. Afebrile.",
        {"72158": "approve"},
    ),
    Probe(
        "hemodialysis-mid-back",
        ("1 | infection temperature >= 38.0 c 100.4",),
        "ESRD on hemodialysis MWF. New mid back pain for one week.",
        {"72146": "approve"},
    ),
    Probe(
        "crp-esr-raised",
        ("1 | infection temperature >= 38.0 c 100.4",),
        f"{LBP} for 2 weeks. Labs: ESR 71, CRP 52 mg/L.",
        {"72148": "approve"},
    ),
    Probe(
        "treated-prostate-cancer",
        ("1 | malignancy any personal history of cancer",),
        "Prostate cancer treated with radiation in 2019. New low back pain for 3 weeks.",
        {"72158": "approve"},
    ),
    Probe(
        "weight-loss",
        ("1 | malignancy any personal history of cancer",),
        f"{LBP} for 4 weeks. Unintentional weight loss of 9 kg since spring.",
        {"72148": "approve"},
    ),
    Probe(
        "fall-from-roof-ct",
        ("1 | fracture significant trauma osteoporosis systemic steroids",),
        "Fell from a roof yesterday; lumbar pain since.",
        {"72131": "approve"},
    ),
    Probe(
        "long-term-prednisone-xray",
        ("1 | fracture significant trauma osteoporosis systemic steroids",),
        f"On prednisone 15 mg daily for 2 years for polymyalgia. {LBP} for 1 week.",
        {"72100": "approve"},
    ),
    Probe(
        "age-78-slipped",
        ("1 | fracture significant trauma osteoporosis systemic steroids",),
        "Slipped in the bathroom 4 days ago and landed on her back. Lumbar pain since.",
        {"72100": "approve"},
        age=78,
    ),
    Probe(
        "recent-discectomy-alone",
        ("1 | not flags a recent spinal operation",),
        "L4-5 microdiscectomy 3 weeks ago. Pain much improved, afebrile, incision clean and dry.",
        {"72148": "deny"},
    ),
    Probe(
        "diabetes-alone",
        ("1 | not flags a recent spinal operation",),
        f"Type 2 diabetes on metformin. {LBP} for 2 weeks, ibuprofen helps a little.",
        {"72148": "deny"},
    ),
    Probe(
        "age-81-no-fall",
        ("1 | not flags a recent spinal operation",),
        f"{LBP} for 3 weeks without any trauma. Taking acetaminophen.",
        {"72148": "deny"},
        age=81,
    ),
    Probe(
        "negated-family-hypothetical-resolved",
        ("1 | (section)",),
        f"{LBP} for 3 weeks on ibuprofen. Denies fever or weight loss. Father had colon cancer. "
        "Return if any bowel or bladder problems occur. Epidural abscess in 2019, resolved. "
        "MRI requested to rule out malignancy.",
        {"72148": "deny"},
    ),
    # rule 2: a red flag bearing on the requested region
    Probe(
        "retention-bladder-scan",
        (
            "2 | (section)",
            "2 | lumbar cauda_equina progressive_neuro_deficit infection malignancy fracture",
            "2 | mri without contrast approve .",
        ),
        "Back pain and unable to void since this morning; post-void residual 700 mL.",
        {"72148": "approve"},
    ),
    Probe(
        "thoracic-sensory-level",
        ("2 | cervical and thoracic myelopathy progressive_neuro_deficit infection",),
        "Mid back pain for 5 weeks with a sensory level at T8 and unsteady gait.",
        {"72146": "approve", "72157": "approve"},
    ),
    Probe(
        "fracture-flag-contrast-refer",
        ("2 | mri with and without contrast approve",),
        "Fell from a ladder two days ago; lumbar pain since.",
        {"72158": "refer"},
    ),
    Probe(
        "saddle-numbness-contrast-approve",
        ("2 | mri with and without contrast approve",),
        "Saddle numbness and new urinary retention since yesterday; severe back pain.",
        {"72158": "approve"},
    ),
    Probe(
        "infection-ct-refer",
        ("2 | ct or radiography refer unless the",),
        f"{LBP} for 1 week. Temp 38.9 C. Requested CT.",
        {"72131": "refer", "72100": "refer"},
    ),
    Probe(
        "cervical-steroids-mri-approve",
        ("2 | mri without contrast approve .",),
        "Prednisone 15 mg daily since January for polymyalgia. Neck pain for 10 days, no injury.",
        {"72141": "approve", "72040": "refer"},
    ),
    Probe(
        "thoracic-steroids-radiographs-approve",
        ("2 | ct or radiography refer unless the",),
        "Prednisone 10 mg daily for two years (lupus). Mid-back pain for 9 days after lifting a box.",
        {"72070": "approve", "72128": "approve"},
    ),
    Probe(
        "lumbar-foot-drop-cervical-mri",
        ("2 | a flag in a different region",),
        "Neck pain for 2 weeks, no arm symptoms. Separately, new left foot drop noted this week.",
        {"72141": "deny", "72148": "approve"},
        alternative={"72141": "72040"},
    ),
    Probe(
        "cervical-cord-signs-lumbar-axial",
        ("2 | a flag in a different region",),
        "Positive Hoffmann sign bilaterally and broad-based gait. Also low back pain for 2 weeks, no leg symptoms.",
        {"72141": "approve", "72148": "deny"},
    ),
    # rule 3: lumbar, no red flag
    Probe(
        "lumbar-v3-dated-care",
        (
            "3 | (section)",
            "3 | a at least 6 weeks of",
            "3 | b the symptoms are persistent or",
            "3 | c the patient is a candidate",
        ),
        V3_CARE,
        {"72148": "approve"},
    ),
    Probe(
        "lumbar-3wk-care",
        ("3 | a at least 6 weeks of",),
        "Back pain since May. PT started 09/14/2026. Pain persists. ESI planned.",
        {"72148": "deny"},
    ),
    Probe(
        "lumbar-improved",
        ("3 | b the symptoms are persistent or",),
        "PT 07/20/2026 to 09/28/2026 and naproxen since 07/15/2026. Pain much improved. Considering ESI.",
        {"72148": "deny"},
    ),
    Probe(
        "lumbar-declines",
        ("3 | c the patient is a candidate",),
        "PT 07/20/2026 to 09/28/2026 and naproxen since 07/15/2026; pain persists. Declines injections and surgery.",
        {"72148": "deny"},
    ),
    Probe(
        "lumbar-72158-alt",
        ("3 | 72158 with no contrast indication infection",),
        V3_CARE,
        {"72158": "deny"},
        alternative={"72158": "72148"},
    ),
    Probe(
        "lumbar-xray-no-flag",
        ("3 | lumbar radiography or ct 72100 72131",),
        f"{LBP} for 3 weeks. Ibuprofen.",
        {"72100": "deny", "72131": "deny"},
    ),
    # rule 4: prior surgery at the same region
    Probe(
        "post-fusion-new-leg-pain",
        ("4 | (section)",),
        "Lumbar fusion at L5-S1 in 2021. New right leg pain radiating below the knee for 3 weeks.",
        {"72158": "approve"},
    ),
    Probe(
        "acdf-then-low-back", ("4 | (section)",), "ACDF in 2020. Low back pain for 3 weeks, no leg symptoms.", {"72148": "deny"}
    ),
    Probe(
        "lumbar-postop-slightly-worse",
        ("4 | (section)",),
        "L4-5 laminectomy in 2018. Back pain since then, slightly worse this month. Ibuprofen.",
        {"72148": "deny"},
    ),
    # rule 5: thoracic, no red flag
    Probe(
        "thoracic-axial-failed-care",
        ("5 | (section)", "5 | no myelopathy and no thoracic radiculopathy"),
        "Mid back pain. PT 07/01/2026 to 09/01/2026; pain persists. Wants an MRI.",
        {"72146": "deny"},
    ),
    Probe(
        "thoracic-bandlike-7wk",
        ("5 | thoracic radiculopathy dermatomal band-like pain with",),
        "Band-like burning pain wrapping around the right chest at T7 with decreased sensation in the T7 dermatome. "
        "Gabapentin since 08/10/2026 and PT since 08/12/2026; no improvement.",
        {"72146": "approve"},
    ),
    Probe(
        "thoracic-72157-alt",
        ("5 | with and without contrast 72157 with",),
        "Band-like burning pain wrapping around the right chest at T7 with decreased sensation in the T7 dermatome. "
        "Gabapentin since 08/10/2026 and PT since 08/12/2026; no improvement.",
        {"72157": "deny"},
        alternative={"72157": "72146"},
    ),
    # rule 6: cervical, no red flag
    Probe(
        "neck-axial-mri",
        ("6 | (section)", "6 | axial neck pain without radiculopathy mri"),
        "Neck pain for 3 weeks after sleeping awkwardly. No arm symptoms.",
        {"72141": "deny", "72040": "approve"},
        alternative={"72141": "72040"},
        departure="radiographs first",
    ),
    Probe(
        "neck-c6-8wk",
        ("6 | radiculopathy arm pain in a root",),
        "Pain radiating down the right arm to the thumb. PT 07/15/2026 to 09/25/2026 and meloxicam since 07/10/2026; "
        "symptoms persist.",
        {"72141": "approve"},
    ),
    Probe(
        "neck-c6-2wk-true-variant",
        ("6 | radiculopathy arm pain in a root",),
        "Pain radiating down the left arm into the index finger for 2 weeks. Started meloxicam last week.",
        {"72141": "deny"},
        variant={"72141": "cx-v2"},
        departure="6 weeks",
    ),
    Probe(
        "neck-clumsy-hoffmann",
        ("6 | myelopathy signs 72141 and 72156 approve",),
        "Dropping objects, Hoffmann sign present on the right.",
        {"72141": "approve", "72156": "approve"},
    ),
    Probe(
        "neck-72156-alt",
        ("6 | 72156 with no contrast indication deny",),
        "Pain radiating down the right arm to the thumb. PT 07/15/2026 to 09/25/2026 and meloxicam since 07/10/2026; "
        "symptoms persist.",
        {"72156": "deny"},
        alternative={"72156": "72141"},
    ),
    # rule 7: out of scope, or cannot be judged
    Probe(
        "shoulder-mri",
        ("7 | (section)", "7 | codes outside spine imaging 70551 brain"),
        "Shoulder pain after a fall.",
        {"73221": "refer"},
    ),
    Probe("spinal-mra", ("7 | spine codes with no applicable guideline",), "Known dural fistula, follow-up.", {"72159": "refer"}),
    Probe(
        "contradictory-pt",
        ("7 | documentation that contradicts itself on a",),
        "Completed 8 weeks of physical therapy, pain persists, ESI planned. PT intake today: no prior physical therapy.",
        {"72148": "refer"},
    ),
    # rule 8: things that are not indications
    Probe(
        "reassurance-no-imaging",
        ("8 | (section)", '8 | lack of recent imaging a "baseline"'),
        f"{LBP} for 2 weeks. No imaging on file; she would like an MRI for reassurance.",
        {"72148": "deny"},
    ),
    Probe(
        "pt-starts-next-week",
        ('8 | planned therapy "will start pt" "first',),
        f"{LBP} for 8 weeks. Will start PT next week and begin naproxen today.",
        {"72148": "deny"},
    ),
    # issue 15 items beyond LABELING.md
    Probe(
        "age-15-lumbar",
        ("issue | age gate", "7 | a patient under 18 the acr"),
        f"{LBP} for 10 weeks. PT 07/01/2026 to 09/20/2026, persists; ESI planned.",
        {"72148": "refer"},
        age=15,
    ),
    Probe(
        "lesion-to-characterise-refer",
        ("lesion to characterise",),
        "Outside CT: indeterminate lytic focus in the L3 body. Mild back ache. MRI with and without contrast to characterize.",
        {"72158": "refer", "72148": "refer"},
    ),
    Probe(
        "lesion-with-cancer-history-approve",
        ("lesion to characterise",),
        "Breast cancer 2021. Outside CT: indeterminate lytic focus in L3. New back pain for 2 weeks.",
        {"72158": "approve"},
    ),
    Probe(
        "v6-82-osteoporosis-history",
        ("issue | lbp variant 6",),
        f"PMH: osteoporosis on alendronate. {LBP} for 1 week, no trauma.",
        {"72148": "approve"},
        age=82,
        variant={"72148": "lbp-v6"},
    ),
    Probe(
        "v6-66-fall-from-standing",
        ("issue | lbp variant 6", "3 | older age with low-energy trauma or"),
        f"Fell from standing onto her buttocks 5 days ago. {LBP} since.",
        {"72148": "approve", "72131": "approve"},
        age=66,
    ),
    Probe(
        "recent-esi-new-pain",
        ("issue | red flags in the texts",),
        "Lumbar ESI 10 days ago; since then new severe low back pain. Afebrile.",
        {"72158": "approve"},
    ),
    Probe("raised-wbc", ("issue | red flags in the texts",), f"{LBP} for 1 week. Afebrile. WBC 16.2.", {"72158": "approve"}),
    Probe(
        "as-minor-trauma",
        ("issue | red flags in the texts",),
        "Ankylosing spondylitis. Slipped on ice yesterday; new mid back pain.",
        {"72146": "approve"},
        age=48,
    ),
    Probe(
        "urgency-cord-signs",
        ("issue | red flags in the texts",),
        "Mid back pain. New bladder urgency this month; brisk knee jerks and her legs feel stiff.",
        {"72146": "approve"},
    ),
    Probe(
        "thoracic-postop-persistent",
        ("issue | thoracic post-operative",),
        "Thoracic fusion T10-T12 in 2022. Mid back pain persists, unchanged since surgery.",
        {"72146": "approve"},
        variant={"72146": "th-v7"},
    ),
    Probe(
        "cervical-v8-degenerative-xrays",
        ("issue | cervical v8 v9",),
        "Neck pain for 9 months, no arm symptoms. Cervical x-rays in March showed C5-6 spondylosis. "
        "PT 07/01/2026 to 08/30/2026 and meloxicam since 07/01/2026; pain persists.",
        {"72141": "approve", "72040": "deny"},
        variant={"72141": "cx-v8"},
    ),
    Probe(
        "cervical-v9-opll",
        ("issue | cervical v8 v9",),
        "Neck pain for a year. Cervical radiographs last year showed OPLL at C4-5. PT 07/01/2026 to 08/30/2026 "
        "and meloxicam since 07/01/2026; pain persists.",
        {"72125": "approve", "72141": "refer"},
        variant={"72125": "cx-v9"},
    ),
    Probe(
        "thoracic-v6-fracture-on-xrays",
        ("issue | thoracic v6",),
        "Mid back pain for 3 weeks. Thoracic x-rays last week showed a T8 compression fracture.",
        {"72157": "approve", "72146": "approve"},
        age=74,
        variant={"72157": "th-v6"},
    ),
    Probe(
        "thoracic-v6-not-old-normal-xrays",
        ("issue | thoracic v6",),
        "Fell on the stairs yesterday; mid back pain since. Thoracic x-rays in 2019 were normal.",
        {"72157": "refer", "72070": "approve"},
        age=80,
        variant={"72157": "th-v4"},
    ),
    Probe(
        "cervical-v6-neck-headache-3wk",
        ("issue | cervical v6",),
        "Right occipital headaches for 3 weeks, worse with neck rotation. No arm symptoms. Ibuprofen since last week.",
        {"72141": "deny", "72040": "refer"},
        variant={"72141": "cx-v6", "72040": "cx-v6"},
        alternative={"72141": None},
        departure="cervicogenic headache",
    ),
    Probe(
        "cervical-v6-after-care-refer",
        ("issue | cervical v6",),
        "Headaches that begin at the base of the neck and spread to the left temple since July. PT 07/01/2026 to "
        "09/01/2026 and naproxen since 07/01/2026; headaches persist. Neuro exam normal.",
        {"72141": "refer", "72156": "deny"},
        variant={"72141": "cx-v6"},
    ),
    Probe(
        "cervical-v6-not-migraine",
        ("issue | cervical v6",),
        "Neck pain for 3 weeks, no arm symptoms. Known migraine; today's headache is like her usual migraines.",
        {"72141": "deny", "72040": "approve"},
        variant={"72141": "cx-v1"},
        alternative={"72141": "72040"},
    ),
    Probe(
        "cervical-v6-not-tension-or-family",
        ("issue | cervical v6",),
        "Neck stiffness for 2 weeks with tension headaches at work. Her sister has cervicogenic headaches. "
        "Denies headache coming from the neck.",
        {"72141": "deny"},
        variant={"72141": "cx-v1"},
        alternative={"72141": "72040"},
    ),
    Probe(
        "cervical-v6-radicular-is-v2",
        ("issue | cervical v6",),
        "Headaches arising from the neck, and pain radiating down the left arm to the thumb for 2 weeks.",
        {"72141": "deny"},
        variant={"72141": "cx-v2"},
    ),
    Probe(
        "thoracic-radic-3wk-true-variant",
        ("issue | true variant for radiculopathy",),
        "Band-like pain around the left chest at T8 for 3 weeks.",
        {"72146": "deny"},
        variant={"72146": "th-v3"},
    ),
    Probe("ct-myelography-halves", ("issue | ct myelography",), V3_CARE, {"72132": "refer"}),
    Probe("v3-xray-ct-refer", ("issue | same-modality alternatives",), V3_CARE, {"72100": "refer", "72131": "refer"}),
    Probe(
        "post-fusion-lumbar-ct-refer",
        ("issue | same-modality alternatives",),
        "L4-5 fusion 2020. New left leg pain for 2 weeks; concern for hardware loosening.",
        {"72131": "refer"},
    ),
    Probe(
        "post-acdf-cervical-ct",
        ("issue | same-modality alternatives",),
        "C5-6 ACDF in 2019. New neck pain radiating to the right arm for 3 weeks.",
        {"72125": "approve", "72141": "approve"},
    ),
    Probe(
        "most-favourable-v5-v7",
        ("issue | most favourable",),
        "L4-5 laminectomy 2017. New left leg pain this month and T 38.4 C.",
        {"72100": "approve"},
    ),
    # the reader's items (issue 10), kept here so they flip when the reader lands
    Probe(
        "osteoporosis-history-age-50",
        ("1 | fracture significant trauma osteoporosis systemic steroids",),
        f"PMH: osteoporosis. {LBP} for 1 week.",
        {"72148": "approve"},
        age=50,
    ),
    Probe(
        "transplant-tacrolimus-history",
        ("1 | infection temperature >= 38.0 c 100.4",),
        f"PMH: kidney transplant 2015, on tacrolimus. {LBP} for 1 week.",
        {"72148": "approve"},
    ),
    Probe(
        "sequential-naproxen-then-pt",
        ("3 | a at least 6 weeks of",),
        "Naproxen 08/01/2026 to 08/22/2026, then PT 08/23/2026 to 09/15/2026. Pain persists; ESI scheduled.",
        {"72148": "approve"},
        note_date=__import__("datetime").date(2026, 9, 15),
    ),
    Probe(
        "icd10-cauda-equina",
        ("2 | lumbar cauda_equina progressive_neuro_deficit infection malignancy fracture",),
        f"{LBP} for 5 days.",
        {"72148": "approve"},
        diagnoses=("G83.4",),
    ),
]
EXTRA_RULES = {
    "issue | age gate",
    "issue | lbp variant 6",
    "issue | red flags in the texts",
    "issue | thoracic post-operative",
    "issue | cervical v8 v9",
    "issue | thoracic v6",
    "issue | cervical v6",
    "issue | true variant for radiculopathy",
    "issue | ct myelography",
    "issue | same-modality alternatives",
    "issue | most favourable",
    "lesion to characterise",
}


@pytest.mark.parametrize("probe", [p.param() for p in PROBES])
def test_probe(engine: Engine, probe: Probe) -> None:
    check(engine, probe)


def test_every_labeling_rule_has_a_probe() -> None:
    rules = text_rules(ROOT / "evals" / "LABELING.md", "## Rules applied", "## Planted")
    covered = {r for p in PROBES for r in p.rules}
    assert sorted(set(rules) - covered) == [], "rules of LABELING.md with no probe row"
    assert sorted(covered - set(rules) - EXTRA_RULES) == [], "probe rows naming a rule the text no longer has"


def test_texts_promise_only_what_the_criteria_do(criteria: CriteriaSet) -> None:
    texts = {d: (ROOT / "guidelines" / f"{d}.md").read_text(encoding="utf-8") for d in DOCUMENTS.values()}
    assert not [d for d, t in texts.items() if "in any variant" in t], "an 'in any variant' claim the tables do not support"
    assert "most favourable outcome" in texts["acr-low-back-pain"]  # what the engine's variant choice does
    cervical = texts["acr-cervical-pain"]
    assert "year: 2018" in cervical and "2024 update is cited but its rating table is not verified" in cervical
    assert "2018" in next(t for t in criteria.topics if t.id == "acr-cervical").version
    contrast_only = {c: i.label for c, i in criteria.codes.codes.items() if i.procedure in ("mri_with", "ct_with")}
    assert all(label.endswith("with contrast only") for label in contrast_only.values()), contrast_only
    assert all(criteria.codes.codes[c].refer for c in ("72126", "72129", "72132")), "CT myelography halves are referred"
