"""Guideline questions about other studies for this case's scenario, answered from the criteria data.

"Is a CT scan a better option?", "What is the rating for radiographs?", "Would MRI without contrast be
enough?", "Does she need contrast?": the answer reads the ratings of the variant the engine chose for
each requested code (the criteria YAML beside the guideline text) and cites that variant's guideline
quote, resolved to its chunk like a determination's citation.
"""

from __future__ import annotations

from agent.cases.determination import CodeDetermination, GuidelineCitation
from agent.criteria.model import RATING_ORDER, CriteriaSet, Rating, Topic, Variant
from agent.facts.model import Region
from agent.knowledge.base import KnowledgeBase
from agent.review.ask_intents import Understanding, vocabulary
from agent.review.ask_model import Answer
from agent.review.ask_view import CaseView

STUDY_WORDS = {
    "mri_wo": "MRI without contrast",
    "mri_with": "MRI with contrast only",
    "mri_wwo": "MRI without and with contrast",
    "ct_wo": "CT without contrast",
    "ct_with": "CT with contrast",
    "ct_wwo": "CT without and with contrast",
    "xr": "radiographs (x-rays)",
}
CONTRAST_STUDIES = ("mri_wo", "mri_wwo", "mri_with")


def scenario(criteria: CriteriaSet, d: CodeDetermination) -> tuple[Topic, Variant] | None:
    """The topic and variant the engine chose for ``d`` (None when no criteria applied)."""
    topic = next((t for t in criteria.topics if t.id == d.topic_id), None)
    if topic is None or d.variant_id is None:
        return None
    return topic, topic.variant(d.variant_id)


def _rating(variant: Variant, kind: str) -> str:
    rating = _ratings(variant).get(kind)
    return f"{rating.label} ({rating.value})" if rating else "not rated"


def _ratings(variant: Variant) -> dict[str, Rating]:
    """The variant's ratings keyed by procedure kind as plain text (questions name kinds as text)."""
    return {str(k): v for k, v in variant.ratings.items()}


def _name(topic: Topic, variant: Variant) -> str:
    number = (
        f"Variant {variant.number}" if variant.number else (f"rated as Variant {variant.rated_as}" if variant.rated_as else "")
    )
    return f"{topic.title}, {number + ': ' if number else ''}{variant.title}"


def _code(criteria: CriteriaSet, region: str | None, kind: str) -> str:
    code = criteria.codes.code_for(Region(region), kind) if region else None
    return f" [{code}]" if code else ""


def _cite(kb: KnowledgeBase, topic: Topic, variant: Variant) -> list[GuidelineCitation]:
    cite = kb.resolve(variant.cite, topic.document)
    return [cite] if cite else []


def _no_scenario(d: CodeDetermination) -> str:
    return f"{d.code}: no guideline scenario applies ({d.rationale or 'outside the criteria'}); a physician reviewer decides."


def study_rating(view: CaseView, u: Understanding, question: str, criteria: CriteriaSet, kb: KnowledgeBase) -> Answer:
    lines: list[str] = []
    cites: list[GuidelineCitation] = []
    for d in view.codes(u):
        found = scenario(criteria, d)
        if found is None:
            lines.append(_no_scenario(d))
            continue
        topic, variant = found
        info = criteria.codes.codes.get(d.code)
        requested = info.procedure if info else None
        lines.append(f"{d.code} ({d.description}): the scenario for this case is {_name(topic, variant)}.")
        asked = _compared(requested, u.studies) or [k for k in STUDY_WORDS if k != requested]
        if requested:
            lines.append(f"  Requested study, {STUDY_WORDS[requested]}: {_rating(variant, requested)}.")
        for kind in asked:
            lines.append(f"  {STUDY_WORDS[kind]}{_code(criteria, d.region, kind)}: {_rating(variant, kind)}.")
        other_modality = [k for k in u.studies if requested and k[:2] != requested[:2]]
        if requested not in u.studies or other_modality:  # "Is a CT better?" about a requested CT: see best rated
            lines += _compare(variant, requested, _compared(requested, u.studies))
        lines.append(_highest(criteria, d, variant))
        reasons = contrast_reasons(view, d)
        if reasons and any(k in ("mri_wo", "ct_wo") for k in u.studies):
            lines.append(
                f"  Reasons for contrast documented in this case: {', '.join(reasons)}; the guideline quote below says "
                "which study it prefers for them."
            )
        cites += _cite(kb, topic, variant)
    answer = Answer(question=question, kind="study", intent=u.intent, text="\n".join(lines), citations=_unique(cites))
    return answer


def _compared(requested: str | None, named: list[str]) -> list[str]:
    """The studies to compare with the requested one: another modality when the question names one
    ("Is a CT better than the MRI?" compares CT), else the other studies of the same modality."""
    others = [k for k in named if k != requested]
    if requested is None:
        return others
    different = [k for k in others if k[:2] != requested[:2]]
    return different or others


def contrast_reasons(view: CaseView, d: CodeDetermination) -> list[str]:
    """What makes contrast relevant for ``d`` in this case (red flags bearing on it, surgery there)."""
    words = vocabulary().contrast_reasons
    reasons = [words[f] for f in d.red_flags_present if f in words]
    if any(s.region is not None and s.region.value == d.region for s in view.facts.prior_surgery):
        reasons.append(words["prior_surgery_same_region"])
    return reasons


def _highest(criteria: CriteriaSet, d: CodeDetermination, variant: Variant) -> str:
    """The best-rated studies of the scenario, with their codes for the requested region."""
    ratings = _ratings(variant)
    if not ratings:
        return "  The scenario rates no study."
    top = max(RATING_ORDER[r] for r in ratings.values())
    best = [k for k in STUDY_WORDS if k in ratings and RATING_ORDER[ratings[k]] == top]
    label = next(r.label for r in ratings.values() if RATING_ORDER[r] == top)
    return (
        f"  Best rated in this scenario ({label}): "
        + ", ".join(STUDY_WORDS[k] + _code(criteria, d.region, k) for k in best)
        + "."
    )


def _compare(variant: Variant, requested: str | None, asked: list[str]) -> list[str]:
    """One line saying whether the asked studies rate above, with or below the requested one."""
    if not requested or not asked:
        return []
    ratings = _ratings(variant)
    mine = ratings.get(requested)
    best = max(asked, key=lambda k: RATING_ORDER[ratings[k]] if k in ratings else 0)
    theirs = ratings.get(best)
    if mine is None or theirs is None:
        return ["  The criteria do not rate both studies in this scenario; a physician reviewer compares them."]
    if RATING_ORDER[theirs] > RATING_ORDER[mine]:
        verdict = f"Yes: {STUDY_WORDS[best]} is rated higher than the requested study in this scenario."
    elif theirs == mine == Rating.UNA:
        verdict = (
            f"{STUDY_WORDS[best]} is rated the same as the requested study: usually not appropriate; "
            "neither is indicated in this scenario."
        )
    elif RATING_ORDER[theirs] == RATING_ORDER[mine]:
        verdict = (
            f"{STUDY_WORDS[best]} is rated the same as the requested study in this scenario ({theirs.label}); it would be enough."
        )
    else:
        verdict = f"No: {STUDY_WORDS[best]} is rated lower than the requested study in this scenario."
    return ["  " + verdict]


def contrast(view: CaseView, u: Understanding, question: str, criteria: CriteriaSet, kb: KnowledgeBase) -> Answer:
    reasons_words = vocabulary().contrast_reasons
    lines: list[str] = []
    cites: list[GuidelineCitation] = []
    for d in view.codes(u):
        found = scenario(criteria, d)
        if found is None:
            lines.append(_no_scenario(d))
            continue
        topic, variant = found
        reasons = contrast_reasons(view, d)
        without = variant.ratings.get("mri_wo")
        with_and_without = variant.ratings.get("mri_wwo")
        lines.append(f"{d.code} ({d.description}): scenario {_name(topic, variant)}.")
        for kind in CONTRAST_STUDIES:
            lines.append(f"  {STUDY_WORDS[kind]}{_code(criteria, d.region, kind)}: {_rating(variant, kind)}.")
        if reasons:
            lines.append(f"  Contrast is in play: {', '.join(reasons)} is documented.")
        else:
            listed = ", ".join(reasons_words.values())
            lines.append(f"  No reason for contrast is documented ({listed}): none found in this case.")
        if without and with_and_without and RATING_ORDER[without] >= RATING_ORDER[with_and_without] and not reasons:
            lines.append("  So contrast is not needed: MRI without contrast is rated at least as high in this scenario.")
        elif with_and_without == Rating.UA:
            lines.append("  MRI without and with contrast is usually appropriate in this scenario.")
        cites += _cite(kb, topic, variant)
    return Answer(question=question, kind="study", intent=u.intent, text="\n".join(lines), citations=_unique(cites))


def _unique(cites: list[GuidelineCitation]) -> list[GuidelineCitation]:
    return list({(c.chunk_id, c.quote): c for c in cites}.values())
