"""Fidelity of the payer-model criteria set to its own text, guidelines/payer-spine-mri-policy.md (issue 15).

* **ratings**: the policy has no rating table, so each rating the criteria file gives a (variant,
  procedure) is a row here with the policy sentence it rests on; the sentence must be in the text and
  the rating in the criteria file must equal the row, and a rating with no row fails;
* **rules**: every rule of the policy text (each section under "Medical necessity criteria" through
  "Not medically necessary", and each list item) has at least one probe note in new wording, reviewed
  by the real reader and the engine under payer-model, in the version the text describes (its front
  matter's ``version``; every probe is dated inside that version's window). Rules the engine cannot
  express are strict xfails saying so ("not encoded: ..."), or ``reader: ...`` where the reader must
  supply the fact;
* **versions**: notes whose decision changed between versions, reviewed under each version by the
  date the request carries.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest

from agent.criteria.engine import Engine
from agent.criteria.model import CriteriaSet
from agent.knowledge.base import KnowledgeBase
from tests.fidelity_support import GUIDELINES, Probe, check, text_rules

POLICY = GUIDELINES / "payer-spine-mri-policy.md"
TEXT = POLICY.read_text(encoding="utf-8")
TEXT_VERSION = re.search(r'^version: "([^"]+)"', TEXT, re.MULTILINE).group(1)  # type: ignore[union-attr]  # front matter

Q_A = "Advanced imaging of a spinal region is medically necessary when a red flag bearing on that region is documented."
Q_B = "When no red flag is present, advanced imaging is medically necessary only when all of the following are documented:"
Q_C = (
    "Advanced imaging is medically necessary after prior surgery at the requested region when there are new or "
    "progressive symptoms or findings."
)
Q_SCAR = "MRI without and with contrast is supported, because contrast separates scar tissue from a recurrent disc."
Q_WWO = "MRI without and with contrast is supported only for:"
Q_NO_CONTRAST = "A request for a contrast study without a qualifying indication is not medically necessary."
Q_WITH = (
    "MRI with contrast only (72142, 72147, 72149) is considered only for suspected infection or malignancy when a "
    "recent without-contrast study of the same region already exists."
)
Q_CT = "CT is an alternative when MRI cannot be done, for example because of an implanted device that is not MRI-safe."
Q_CT_BONE = "CT is also preferred for bony questions: a suspected fracture, hardware position and bony fusion."
Q_XR = "Radiography does not need prior authorization under this policy."
Q_XR_NECK = "For axial neck pain, cervical radiographs are the preferred first study and may be suggested as an alternative."
Q_NONE = "At least 6 weeks of documented conservative care is required before advanced imaging when no red flag is present."
Q_EARLY = (
    "Pathway B and Pathway C do not apply in the early post-operative period: imaging to check on the surgery, or for "
    "the pain expected after it, is not medically necessary."
)
Q_EARLY_XR = "Radiographs, which need no prior authorization, are the first study for hardware position in that period."

# rating set -> procedure -> (rating, the policy sentence it rests on)
RATINGS: dict[str, dict[str, tuple[str, str]]] = {
    "cauda-myelopathy": {
        "mri_wo": ("UA", Q_A),
        "mri_with": ("UNA", Q_WITH),
        "mri_wwo": ("UA", Q_WWO),
        "ct_wo": ("MBA", Q_CT),
        "ct_wwo": ("MBA", Q_CT),
        "xr": ("UA", Q_XR),
    },
    "infection-malignancy": {
        "mri_wo": ("UA", Q_A),
        "mri_with": ("MBA", Q_WITH),
        "mri_wwo": ("UA", Q_WWO),
        "ct_wo": ("MBA", Q_CT),
        "ct_wwo": ("MBA", Q_CT),
        "xr": ("UA", Q_XR),
    },
    "fracture": {
        "mri_wo": ("UA", Q_A),
        "mri_with": ("UNA", Q_WITH),
        "mri_wwo": ("UNA", Q_NO_CONTRAST),
        "ct_wo": ("UA", Q_CT_BONE),
        "ct_wwo": ("UNA", Q_NO_CONTRAST),
        "xr": ("UA", Q_XR),
    },
    "deficit": {
        "mri_wo": ("UA", Q_A),
        "mri_with": ("UNA", Q_WITH),
        "mri_wwo": ("UNA", Q_NO_CONTRAST),
        "ct_wo": ("MBA", Q_CT),
        "ct_wwo": ("UNA", Q_NO_CONTRAST),
        "xr": ("UA", Q_XR),
    },
    "pathway-c": {
        "mri_wo": ("UA", Q_C),
        "mri_with": ("UNA", Q_WITH),
        "mri_wwo": ("UA", Q_SCAR),
        "ct_wo": ("UA", Q_CT_BONE),
        "ct_wwo": ("MBA", Q_CT),
        "xr": ("UA", Q_XR),
    },
    "pathway-b-after-surgery": {
        "mri_wo": ("UA", Q_B),
        "mri_with": ("UNA", Q_WITH),
        "mri_wwo": ("UA", Q_SCAR),
        "ct_wo": ("MBA", Q_CT),
        "ct_wwo": ("MBA", Q_CT),
        "xr": ("UA", Q_XR),
    },
    "pathway-b": {
        "mri_wo": ("UA", Q_B),
        "mri_with": ("UNA", Q_WITH),
        "mri_wwo": ("UNA", Q_NO_CONTRAST),
        "ct_wo": ("MBA", Q_CT),
        "ct_wwo": ("UNA", Q_NO_CONTRAST),
        "xr": ("UA", Q_XR),
    },
    "none": {
        "mri_wo": ("UNA", Q_NONE),
        "mri_with": ("UNA", Q_NONE),
        "mri_wwo": ("UNA", Q_NONE),
        "ct_wo": ("UNA", Q_NONE),
        "ct_wwo": ("UNA", Q_NONE),
        "xr": ("MBA", Q_XR),
    },
    "early": {
        "mri_wo": ("UNA", Q_EARLY),
        "mri_with": ("UNA", Q_EARLY),
        "mri_wwo": ("UNA", Q_EARLY),
        "ct_wo": ("UNA", Q_EARLY),
        "ct_wwo": ("UNA", Q_EARLY),
        "xr": ("UA", Q_EARLY_XR),
    },
    "none-neck": {
        "mri_wo": ("UNA", Q_NONE),
        "mri_with": ("UNA", Q_NONE),
        "mri_wwo": ("UNA", Q_NONE),
        "ct_wo": ("UNA", Q_NONE),
        "ct_wwo": ("UNA", Q_NONE),
        "xr": ("UA", Q_XR_NECK),
    },
}
VARIANT_RATINGS = {
    "a-cauda-equina": "cauda-myelopathy",
    "a-myelopathy": "cauda-myelopathy",
    "a-infection-malignancy": "infection-malignancy",
    "a-fracture": "fracture",
    "a-deficit": "deficit",
    "c": "pathway-c",
    "c-early": "early",
    "b-after-surgery": "pathway-b-after-surgery",
    "b": "pathway-b",
    "radicular": "none",
}
NONE_BY_TOPIC = {"payer-lumbar": "none", "payer-thoracic": "none", "payer-cervical": "none-neck"}


def _expected(topic: str, variant: str) -> dict[str, tuple[str, str]]:
    suffix = variant.split("-", 1)[1]
    return RATINGS[NONE_BY_TOPIC[topic] if suffix == "none" else VARIANT_RATINGS[suffix]]


NOTE_DATE = date(2026, 11, 16)  # every probe's date: inside the window of the version the text describes


@pytest.fixture(scope="module")
def payer(kb_offline: KnowledgeBase) -> CriteriaSet:
    """The version in force on the probes' date, which must be the version the policy text describes."""
    criteria = kb_offline.criteria("payer-model", on=NOTE_DATE)
    assert criteria.policy.version == TEXT_VERSION, "the probes' date is not in the window of the text's version"
    return criteria


@pytest.fixture(scope="module")
def engine(kb_offline: KnowledgeBase, payer: CriteriaSet) -> Engine:
    return Engine(payer, kb_offline.resolve)


def test_every_rating_rests_on_a_policy_sentence(payer: CriteriaSet) -> None:
    mismatched = []
    for topic in payer.topics:
        for v in topic.variants:
            expected = _expected(topic.id, v.id)
            for procedure, rating in v.ratings.items():
                want, _quote = expected.get(procedure, ("(no row)", ""))  # the quote is checked below
                if rating.value != want:
                    mismatched.append(f"{v.id}/{procedure}: {rating.value} vs row {want}")
            assert set(expected) == set(v.ratings), f"{v.id}: rows {sorted(expected)} vs ratings {sorted(v.ratings)}"
    assert mismatched == []


@pytest.mark.parametrize("quote", sorted({q for table in RATINGS.values() for _, q in table.values()}))
def test_rating_source_sentence_is_in_the_policy(quote: str) -> None:
    assert quote in TEXT


# --- probe notes: every rule of the policy text -----------------------------------------------------

EXAM = "Exam: strength 5/5 in both legs, reflexes 2+ and symmetric, straight-leg raise negative."
CARE = "PT 08/31/2026 to 11/09/2026 and naproxen since 08/26/2026. Re-evaluated today: pain persists."
B_AXIAL = f"Low back pain, no leg symptoms. {EXAM} {CARE} Referred to pain management for medial branch blocks."
RADIC = "Pain radiating down the left leg below the knee with weakness of the left EHL 4/5 and a reduced left ankle reflex."


def probe(*args: Any, **kwargs: Any) -> Probe:
    """A probe dated NOTE_DATE (fidelity_support's default date is the ACR table's)."""
    return Probe(*args, **{"note_date": NOTE_DATE, **kwargs})


PROBES = [
    # Pathway A, B, C and the regional notes
    probe(
        "a-fever-waives-wait",
        ("Medical necessity criteria | (section)", "Pathway A | (section)", "A red flag waives the wait | (section)"),
        "Low back pain for 5 days. Temp 38.7 C.",
        {"72148": "approve", "72158": "approve"},
    ),
    probe(
        "b-axial-candidate",
        ("Pathway B | (section)", "Pathway B | at least 6 weeks of conservative", "Pathway B | candidacy for surgery or for an"),
        B_AXIAL,
        {"72148": "approve"},
    ),
    probe(
        "b-axial-no-candidacy",
        ("Pathway B | candidacy for surgery or for an", "Treatment-planning intent | (section)"),
        f"Low back pain, no leg symptoms. {EXAM} {CARE} MRI to see what is going on.",
        {"72148": "deny"},
    ),
    probe(
        "b-radiculopathy-objective-no-candidacy",
        ("Objective findings for radiculopathy | (section)", "Treatment-planning intent | (section)"),
        f"{RADIC} {CARE} Patient does not want injections or surgery.",
        {"72148": "approve"},
    ),
    probe(
        "b-radicular-pain-only",
        ("Objective findings for radiculopathy | (section)",),
        f"Pain radiating down the left leg below the knee; strength, sensation and reflexes normal. {CARE} ESI planned.",
        {"72148": "deny"},
    ),
    probe(
        "b-improving",
        ("Pathway B | a re-evaluation after the trial showing", "Re-evaluation after the trial | (section)"),
        f"Low back pain. {EXAM} PT 08/31/2026 to 11/09/2026 and naproxen since 08/26/2026. Much improved. ESI discussed.",
        {"72148": "deny"},
    ),
    probe(
        "b-no-in-person-exam",
        ("Pathway B | an in-person evaluation with a focused", "Clinical evaluation for the current episode | (section)"),
        "Phone visit only, no examination this episode. Low back pain. PT 08/31/2026 to 11/09/2026 and naproxen since "
        "08/26/2026; pain persists. Referred to pain management for medial branch blocks.",
        {"72148": "deny"},
    ),
    probe(
        "c-post-laminectomy-new-weakness",
        ("Pathway C | (section)", "Prior surgery at the same region | (section)"),
        "L4-5 laminectomy in 2019. New left foot numbness and leg pain for 2 weeks.",
        {"72158": "approve"},
    ),
    probe(
        "c-dated-acdf-new-since-label",
        ("Pathway C | (section)", "Prior surgery at the same region | (section)"),
        "C6-7 ACDF on 04/22/2026; the arm pain was gone by June. New as of 11/02/2026: right-sided arm pain and "
        "numbness in the thumb. Decreased sensation over the right thumb, biceps reflex reduced.",
        {"72141": "approve"},
        variant={"72141": "pc-c"},
    ),
    probe(
        "early-postop-dated-surgery",
        ("The early post-operative period | (section)",),
        "Right L5-S1 microdiscectomy on 10/26/2026. New low back pain beside the incision since returning to desk "
        "work; afebrile, wound clean. MRI to check the operation.",
        {"72158": "deny", "72100": "approve"},
        variant={"72158": "pl-c-early"},
    ),
    probe(
        "thoracic-axial-pathway-b",
        ("Regional notes | (section)",),
        f"Mid back pain, no radiating symptoms. Strength 5/5, reflexes 2+. {CARE} "
        "Referred to pain management for medial branch blocks.",
        {"72146": "approve"},
    ),
    probe(
        "neck-axial-xray-first",
        ("Regional notes | (section)",),
        "Neck pain for 2 weeks, no arm symptoms.",
        {"72141": "deny", "72040": "approve"},
        alternative={"72141": "72040"},
    ),
    # what counts as conservative care
    probe(
        "ot-counts",
        (
            "Conservative care | (section)",
            "What counts as conservative care | (section)",
            "What counts as conservative care | physical therapy or occupational therapy",
        ),
        f"Low back pain. {EXAM} Occupational therapy 08/31/2026 to 11/09/2026; pain persists. Referred to pain management for "
        "medial branch blocks.",
        {"72148": "approve"},
    ),
    probe(
        "hep-with-plan",
        ("What counts as conservative care | a physician-directed home exercise program with",),
        f"Low back pain. {EXAM} Home exercise program with a written plan since 08/31/2026; pain persists. Referred to pain "
        "management for medial branch blocks.",
        {"72148": "approve"},
    ),
    probe(
        "gabapentin-counts",
        ("What counts as conservative care | nsaids acetaminophen or other analgesics muscle",),
        f"Low back pain. {EXAM} Gabapentin since 08/31/2026 and cyclobenzaprine since 09/05/2026; pain persists. Referred to "
        "pain management for medial branch blocks.",
        {"72148": "approve"},
    ),
    probe(
        "chiropractic-counts",
        ("What counts as conservative care | chiropractic care osteopathic manipulation or other",),
        f"Low back pain. {EXAM} Chiropractic care 08/31/2026 to 11/09/2026; pain persists. Referred to pain management for "
        "medial branch blocks.",
        {"72148": "approve"},
    ),
    probe(
        "facet-injection-counts",
        ("What counts as conservative care | epidural steroid injections facet or medial",),
        f"Low back pain. {EXAM} Facet injections since 08/31/2026 with brief relief; pain persists. Referred to pain "
        "management for medial branch blocks.",
        {"72148": "approve"},
    ),
    probe(
        "work-restrictions-count",
        ("What counts as conservative care | activity modification directed by the provider",),
        f"Low back pain. {EXAM} Work restrictions since 08/31/2026; pain persists. "
        "Referred to pain management for medial branch blocks.",
        {"72148": "approve"},
    ),
    # what does not count
    probe(
        "symptoms-alone",
        (
            "What does not count as conservative care | (section)",
            "What does not count as conservative care | symptoms alone do not count however",
            "Weeks of treatment, not weeks of symptoms | (section)",
        ),
        f"Low back pain for 6 months, no treatment so far. {EXAM} Referred to pain management for medial branch blocks.",
        {"72148": "deny"},
    ),
    probe(
        "will-refer-pt",
        ("What does not count as conservative care | a plan to start therapy does",),
        f"Low back pain for 10 weeks. {EXAM} Will refer to PT. Referred to pain management for medial branch blocks.",
        {"72148": "deny"},
    ),
    probe(
        "stretch-at-home",
        ("What does not count as conservative care | an unsupervised exercise suggestion does not",),
        f"Low back pain since July. {EXAM} Told to stretch at home. Pain persists. "
        "Referred to pain management for medial branch blocks.",
        {"72148": "deny"},
    ),
    probe(
        "trigger-points-only",
        ("What does not count as conservative care | trigger point injections do not count.",),
        f"Low back pain. {EXAM} Trigger point injections since 08/31/2026; pain persists. Referred to pain management for "
        "medial branch blocks.",
        {"72148": "deny"},
    ),
    probe(
        "acupuncture-massage-only",
        ("What does not count as conservative care | acupuncture massage tens and traction do",),
        f"Low back pain. {EXAM} Acupuncture and massage therapy 08/31/2026 to 11/09/2026; pain persists. Referred to pain "
        "management for medial branch blocks.",
        {"72148": "deny"},
    ),
    probe(
        "undated-pt",
        (
            "What does not count as conservative care | treatment documented without any date or",
            "Record of each conservative modality | (section)",
        ),
        f"Low back pain. {EXAM} Has completed eight weeks of physical therapy; pain persists. Referred to pain management for "
        "medial branch blocks.",
        {"72148": "deny"},
    ),
    probe(
        "care-for-the-neck",
        ("What does not count as conservative care | treatment for another region or for",),
        f"Neck pain treated with PT 08/31/2026 to 11/09/2026. New low back pain for 2 weeks. {EXAM} Referred to pain management "
        "for medial branch blocks of the lumbar spine.",
        {"72148": "deny"},
    ),
    probe(
        "occasional-otc",
        ("What does not count as conservative care | occasional self-directed use of over-the-counter medicines",),
        f"Low back pain. {EXAM} Since 08/31/2026 takes an Advil now and then on her own; pain persists. Referred to pain "
        "management for medial branch blocks.",
        {"72148": "deny"},
    ),
    # how the 6 weeks are counted
    probe(
        "how-counted-dates",
        (
            "How the 6 weeks are counted | (section)",
            "Counting from dates in the notes | (section)",
            "When the clock starts | (section)",
        ),
        f"Low back pain since March. {EXAM} PT started 10/01/2026 and is ongoing. Pain persists. Referred to pain management for "
        "medial branch blocks.",
        {"72148": "approve"},
    ),
    probe(
        "concurrent-do-not-add",
        ("Concurrent modalities do not add up | (section)",),
        f"Low back pain. {EXAM} PT 10/13/2026 to 11/03/2026 with naproxen 10/13/2026 to 11/03/2026. Pain persists. Referred to "
        "pain management for medial branch blocks.",
        {"72148": "deny"},
    ),
    probe(
        "sequential-add-up",
        ("Concurrent modalities do not add up | (section)",),
        f"Low back pain. {EXAM} Naproxen 10/02/2026 to 10/23/2026, then PT 10/24/2026 to 11/16/2026. Pain persists. Referred to "
        "pain management for medial branch blocks.",
        {"72148": "approve"},
    ),
    probe(
        "pt-ended-long-ago",
        ("A trial within the last 12 weeks | (section)",),
        f"Low back pain. {EXAM} PT 02/16/2026 to 05/01/2026. Pain persists. Referred to spine surgery.",
        {"72148": "deny"},
    ),
    # documentation
    probe(
        "documentation-complete",
        ("Documentation requirements | (section)",),
        f"{RADIC} {CARE} ESI planned.",
        {"72148": "approve"},
    ),
    # red flags
    probe(
        "red-flags-section",
        (
            "Red flags that waive the waiting period | (section)",
            "How a red flag is counted | (section)",
            "cauda_equina | (section)",
        ),
        "Back pain. Numbness in the saddle area since yesterday and reduced anal tone.",
        {"72148": "approve", "72158": "approve"},
    ),
    probe(
        "foot-drop-decides-lumbar-only",
        ("How a red flag is counted | (section)", "progressive_neuro_deficit | (section)"),
        "Neck pain for 2 weeks, no arm symptoms. New right foot drop.",
        {"72141": "deny", "72148": "approve"},
    ),
    probe(
        "chronic-3-of-5-not-a-flag",
        ("progressive_neuro_deficit | (section)",),
        "Low back pain for 2 weeks. Left EHL 3/5, unchanged for 5 years since an old injury.",
        {"72148": "deny"},
    ),
    probe(
        "new-4-plus-not-a-flag",
        ("progressive_neuro_deficit | (section)",),
        "Low back pain for 2 weeks with new left ankle weakness, graded 4+/5.",
        {"72148": "deny"},
    ),
    probe(
        "infection-procedure",
        ("infection | (section)",),
        "Lumbar epidural steroid injection 2 weeks ago; new severe back pain since the injection.",
        {"72158": "approve"},
    ),
    probe("infection-wbc", ("infection | (section)",), "Low back pain for 1 week. WBC 15,800.", {"72158": "approve"}),
    probe(
        "malignancy-treated",
        ("malignancy | (section)",),
        "Breast cancer treated in 2018. New mid back pain for 2 weeks.",
        {"72157": "approve"},
    ),
    probe(
        "malignancy-age-alone",
        ("malignancy | (section)",),
        "Low back pain for 2 weeks, no other history.",
        {"72148": "deny"},
        age=68,
    ),
    probe(
        "fracture-older-minor-trauma",
        ("fracture | (section)",),
        "Tripped on a curb 3 days ago; low back pain since.",
        {"72148": "approve", "72131": "approve"},
        age=67,
    ),
    probe(
        "fracture-as-minor-trauma",
        ("fracture | (section)",),
        "Ankylosing spondylitis. Slipped getting out of the shower; new neck pain.",
        {"72125": "approve"},
        age=52,
    ),
    probe(
        "myelopathy-cervical",
        ("myelopathy | (section)",),
        "Hand clumsiness and a positive Hoffmann sign; Lhermitte sign on neck flexion.",
        {"72156": "approve", "72148": "deny"},
    ),
    probe(
        "mentions-that-do-not-count",
        (
            "Mentions that do not count | (section)",
            'Mentions that do not count | negated "denies saddle anesthesia" "no fever"',
            'Mentions that do not count | family history "mother had breast cancer".',
            'Mentions that do not count | hypothetical return precautions such as "return',
            "Mentions that do not count | resolved a problem documented as resolved",
        ),
        "Low back pain for 2 weeks. Denies saddle numbness, no fever. Sister had lymphoma. Return if weakness develops. "
        "Urinary retention after a hernia repair in 2019, resolved.",
        {"72148": "deny"},
    ),
    # post-operative spine
    probe(
        "postop-section-other-region",
        ("Post-operative spine | (section)", "Surgery in another region | (section)"),
        "C5-6 ACDF in 2018. Low back pain for 3 weeks, worse this week.",
        {"72148": "deny"},
    ),
    probe(
        "postop-slightly-worse",
        ("Stable long-standing symptoms | (section)",),
        "L4-5 laminectomy in 2017. Low back pain since, slightly worse lately.",
        {"72148": "deny"},
    ),
    probe(
        "early-postop-no-question",
        ("The early post-operative period | (section)",),
        "L5-S1 microdiscectomy 10 days ago. New back pain near the incision since surgery. MRI to check the surgery.",
        {"72158": "deny"},
    ),
    # contrast
    probe(
        "contrast-default",
        (
            "Contrast | (section)",
            "Without contrast is the default | (section)",
            "When with-and-without contrast is supported | (section)",
        ),
        f"{RADIC} {CARE} ESI planned.",
        {"72158": "deny"},
        alternative={"72158": "72148"},
    ),
    probe(
        "contrast-infection",
        ("When with-and-without contrast is supported | suspected infection",),
        "Mid back pain for 1 week, T 39.0 C.",
        {"72157": "approve"},
    ),
    probe(
        "contrast-tumor",
        ("When with-and-without contrast is supported | known or suspected tumor or malignancy",),
        "Known lung cancer. New neck pain for 2 weeks.",
        {"72156": "approve"},
    ),
    probe(
        "contrast-cauda-equina",
        ("When with-and-without contrast is supported | work-up of suspected cauda equina syndrome",),
        "Back pain with new urinary retention since this morning.",
        {"72158": "approve"},
    ),
    probe(
        "contrast-myelopathy",
        ("When with-and-without contrast is supported | myelopathy",),
        "Wide-based gait and clonus at both ankles; mid back pain.",
        {"72157": "approve"},
    ),
    probe(
        "contrast-prior-surgery",
        ("When with-and-without contrast is supported | prior surgery at the requested region.",),
        "C5-6 ACDF in 2020. New right arm pain for 2 weeks.",
        {"72156": "approve"},
    ),
    probe(
        "contrast-only",
        ("Contrast-only studies | (section)",),
        f"{RADIC} {CARE} ESI planned.",
        {"72149": "deny", "72132": "refer"},
    ),
    # prior imaging, CT, not medically necessary
    probe(
        "repeat-imaging",
        ("Repeat and prior imaging | (section)",),
        "Low back pain for 2 weeks. Lumbar MRI last year was unremarkable; no change since. Wants a new MRI.",
        {"72148": "deny"},
    ),
    probe(
        "ct-bony-question",
        ("CT instead of MRI | (section)",),
        "L4-5 fusion in 2021. New back pain for 3 weeks; concern for hardware failure.",
        {"72131": "approve"},
    ),
    probe(
        "not-necessary-section",
        (
            "Not medically necessary | (section)",
            "Not medically necessary | advanced imaging for stable long-standing pain",
            "Not medically necessary | surveillance imaging of stable patients.",
        ),
        "Low back pain unchanged for 10 years. Annual MRI to keep an eye on it.",
        {"72148": "deny"},
    ),
    probe(
        "degenerative-xrays-only",
        ("Not medically necessary | advanced imaging based only on degenerative",),
        "Lumbar x-rays show degenerative disc disease. Low back pain for 2 weeks.",
        {"72148": "deny"},
    ),
    probe(
        "no-recent-imaging",
        ("Not medically necessary | imaging requested only because no recent",),
        "Low back pain for 3 weeks. No imaging on file, so an MRI is requested.",
        {"72148": "deny"},
    ),
    probe(
        "positional-mri",
        ("Not medically necessary | positional upright weight-bearing or dynamic mri.",),
        "Low back pain. Upright weight-bearing MRI requested. Referred to spine surgery.",
        {"72148": "deny"},
    ),
    # scope
    probe(
        "under-18",
        ("Scope | (section)", "Policy summary | (section)"),
        f"{RADIC} {CARE} ESI planned.",
        {"72148": "refer"},
        age=16,
    ),
]


@pytest.mark.parametrize("probe", [p.param() for p in PROBES])
def test_probe(engine: Engine, probe: Probe) -> None:
    check(engine, probe)


def test_every_policy_rule_has_a_probe() -> None:
    rules = text_rules(POLICY, "# umreview model policy", "## CPT codes covered")
    covered = {r for p in PROBES for r in p.rules}
    assert sorted(set(rules) - covered) == [], "rules of the payer policy with no probe row"
    assert sorted(covered - set(rules)) == [], "probe rows naming a rule the text no longer has"


# --- versions: the same note, judged by the version in force on its date ------------------------------

V2_DATE, V3_DATE = date(2026, 10, 5), NOTE_DATE  # 2026.2 (2026-04-01..2026-10-31), 2026.3 (from 2026-11-01)
R_CARE = "PT started 8 weeks ago and is ongoing; naproxen started 9 weeks ago. Re-evaluated today: pain persists."
R_PLAN = "Referred to pain management for medial branch blocks."
VERSION_ROWS = [
    # (id, note, {code: decision under 2026.2}, {code: decision under 2026.3})
    (
        "office-exam",
        f"Office visit. Low back pain, no leg symptoms. {EXAM} {R_CARE} {R_PLAN}",
        {"72148": "approve"},
        {"72148": "approve"},
    ),
    ("no-exam", f"Office visit. Low back pain, no leg symptoms. {R_CARE} {R_PLAN}", {"72148": "approve"}, {"72148": "deny"}),
    (
        "exam-by-video-only",
        f"Video visit. Low back pain, no leg symptoms. Strength 5/5 by self-report. {R_CARE} {R_PLAN}",
        {"72148": "approve"},
        {"72148": "deny"},
    ),
    (
        "microdiscectomy-3wk-new-leg-pain",
        "L4-5 microdiscectomy 3 weeks ago. New left leg pain and numbness since last week. MRI to check the repair.",
        {"72158": "approve"},  # 2026.2: Pathway C (new symptoms after surgery at the region)
        {"72158": "deny", "72100": "approve"},  # 2026.3: the early post-operative period, no red flag
    ),
    (
        "laminectomy-2wk-fever-drainage",
        "L4-5 laminectomy 2 weeks ago. T 38.6 C and purulent drainage from the incision.",
        {"72158": "approve"},
        {"72158": "approve"},  # a red flag decides in the early period too
    ),
    (
        "laminectomy-10wk-new-numbness",
        "L4-5 laminectomy 10 weeks ago. New left foot numbness for a week.",
        {"72158": "approve"},
        {"72158": "approve"},  # past the 6 weeks: Pathway C
    ),
]


@pytest.mark.parametrize(("row_id", "note", "v2", "v3"), VERSION_ROWS, ids=[r[0] for r in VERSION_ROWS])
def test_decision_follows_the_version_in_force_on_the_request_date(
    kb_offline: KnowledgeBase, row_id: str, note: str, v2: dict[str, str], v3: dict[str, str]
) -> None:
    for on, version, expect in ((V2_DATE, "2026.2", v2), (V3_DATE, "2026.3", v3)):
        criteria = kb_offline.criteria("payer-model", on=on)
        assert criteria.policy.version == version
        check(Engine(criteria, kb_offline.resolve), Probe(row_id, (), note, expect, note_date=on))


def test_the_grade_limit_is_the_payer_sets_own(kb_offline: KnowledgeBase) -> None:
    """ "New weakness graded 3/5 or worse" is the payer policy's; under acr-default a new 4+/5 weakness stays
    the progressive-deficit red flag."""
    note = "Low back pain for 2 weeks with new left ankle weakness, graded 4+/5."
    acr = Engine(kb_offline.criteria("acr-default"), kb_offline.resolve)
    check(acr, Probe("acr-new-4-plus", (), note, {"72148": "approve"}, variant={"72148": "lbp-deficit"}))
    payer = Engine(kb_offline.criteria("payer-model", on=NOTE_DATE), kb_offline.resolve)
    check(payer, Probe("payer-new-4-plus", (), note, {"72148": "deny"}, note_date=NOTE_DATE))
