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
from agent.review.ask_facts import CaseView
from agent.review.ask_intents import Understanding, vocabulary
from agent.review.ask_model import Answer

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
    rating = variant.ratings.get(kind)  # type: ignore[call-overload]  # procedure kinds are Literal keys
    return f"{rating.label} ({rating.value})" if rating else "not rated"


def _name(topic: Topic, variant: Variant) -> str:
    number = f"Variant {variant.number}" if variant.number else (f"rated as Variant {variant.rated_as}" if variant.rated_as else "")
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
        asked = [k for k in u.studies if k != requested] or [k for k in STUDY_WORDS if k != requested]
        if requested:
            lines.append(f"  Requested study, {STUDY_WORDS[requested]}: {_rating(variant, requested)}.")
        for kind in asked:
            lines.append(f"  {STUDY_WORDS[kind]}{_code(criteria, d.region, kind)}: {_rating(variant, kind)}.")
        lines += _compare(variant, requested, [k for k in u.studies if k != requested])
        cites += _cite(kb, topic, variant)
    answer = Answer(question=question, kind="study", intent=u.intent, text="\n".join(lines), citations=_unique(cites))
    return answer


def _compare(variant: Variant, requested: str | None, asked: list[str]) -> list[str]:
    """One line saying whether the asked studies rate above, with or below the requested one."""
    if not requested or not asked:
        return []
    mine = variant.ratings.get(requested)  # type: ignore[call-overload]
    best = max(asked, key=lambda k: RATING_ORDER.get(variant.ratings.get(k), 0))  # type: ignore[call-overload]
    theirs = variant.ratings.get(best)  # type: ignore[call-overload]
    if mine is None or theirs is None:
        return ["  The criteria do not rate both studies in this scenario; a physician reviewer compares them."]
    if RATING_ORDER[theirs] > RATING_ORDER[mine]:
        verdict = f"Yes: {STUDY_WORDS[best]} is rated higher than the requested study in this scenario."
    elif RATING_ORDER[theirs] == RATING_ORDER[mine]:
        verdict = f"{STUDY_WORDS[best]} is rated the same as the requested study in this scenario ({theirs.label}); it would be enough."
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
        reasons = [reasons_words[f] for f in d.red_flags_present if f in reasons_words]
        if any(s.region is not None and s.region.value == d.region for s in view.facts.prior_surgery):
            reasons.append(reasons_words["prior_surgery_same_region"])
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
