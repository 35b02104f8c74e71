"""Follow-up questions about a reviewed case, answered with quotes and citations, without a model.

One code path for the CLI, the API and the workbench chat. The question is understood from data
(intents with weighted phrasings, ``data/ask_intents.yaml``, read by ``agent.review.ask_intents``), then
answered by one handler:
* fact questions from the rules reader's reading of the documentation (``agent.review.ask_facts``):
  weeks and kinds of care, onset, where a finding is mentioned, red flags and the ones ruled out, prior
  surgery and imaging, candidacy, age, exam grades, medications, instructions planted in notes;
* guideline questions about other studies for this scenario (``agent.review.ask_guideline``): the
  ratings of the variant that applies, with its citation; whether contrast is needed;
* what would make a code approvable or change the decision; which criterion failed and why; what the
  guidelines say about a topic; whether a new fact would change the recommendation ("what if he had
  new urinary retention?": the fact is added to the note as a stated finding and the reader and engine
  are re-run).
Anything outside the case and the knowledge base gets a refusal that says what can be answered, never
an invented answer. Text inside the notes is data: quoted, never obeyed. Every citation is checked like
a determination's: guideline quotes must be in their chunk, note quotes verbatim in the documentation.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from agent.cases.determination import CodeDetermination, CriterionStatus, Determination, GuidelineCitation
from agent.cases.model import Case
from agent.facts.extract import extract_facts
from agent.review import ask_facts, ask_record
from agent.review.ask_guideline import contrast, study_rating
from agent.review.ask_intents import Understanding, is_refusal, refusal_text, understand
from agent.review.ask_model import Answer, Kind
from agent.review.ask_sources import Sources
from agent.review.ask_view import CaseView, reading
from agent.review.reviewer import Reviewer

__all__ = ["FACT_HANDLERS", "REFUSAL", "Answer", "RulesAnswerer", "check_answer", "classify"]

# Words in a question that point at one checklist criterion (criterion ids of the criteria files).
CRITERION_WORDS = {
    "prior_surgery_same_region": r"surg\w*|fusion|acdf|laminectomy|discectomy|post-?op\w*|operat\w*",
    "conservative_care": r"conservative|physical\s+therapy|\bpt\b|nsaid\w*|therapy|six\s+weeks|6\s+weeks|treatment",
    "candidacy": r"candida\w*|injection|esi|epidural|intervention",
    "radicular_findings": r"radicul\w*|sciatica|deficit|weakness|numbness|reflex",
    "red_flags": r"red\s+flags?|cauda|infection|cancer|fracture|myelopath\w*",
    "prior_imaging": r"imaging|x-?rays?|previous\s+mri|prior\s+mri",
    "persistent_symptoms": r"persist\w*|worse\w*|progress\w*",
}
REGION_WORDS = {
    "lumbar": r"lumbar|low(?:er)?\s+back|l-?spine",
    "thoracic": r"thoracic|mid[-\s]?back|t-?spine",
    "cervical": r"cervical|neck|c-?spine",
}
REFUSAL = refusal_text()

_WHAT_IF = re.compile(
    r"\b(?:what\s+if|suppose|assuming|if)\b\s+(?:(?:he|she|they|the\s+patient|pt|patient)\s+)?"
    r"(?:had|has|have|developed|develops|reported|reports|were\s+to\s+develop|also\s+had|now\s+has|was\s+found\s+to\s+have)?\s*(?P<fact>.+?)[?.!]*$",
    re.IGNORECASE,
)
# The handler of each fact intent (data/ask_intents.yaml): all answer as kind "fact".
FACT_HANDLERS: dict[str, Callable[[CaseView, Understanding, str], Answer]] = {
    "care": ask_facts.care,
    "onset": ask_facts.onset,
    "mentions": ask_facts.mentions,
    "red_flags": ask_facts.red_flags,
    "prior_surgery": ask_facts.prior_surgery,
    "prior_imaging": ask_facts.prior_imaging,
    "candidacy": ask_facts.candidacy,
    "age": ask_record.age,
    "exam": ask_record.exam,
    "medications": ask_record.medications,
    "instructions": ask_record.instructions,
    "summary": ask_record.summary,
    "diagnosis": ask_record.diagnosis,
}
# The answer kind of each intent (data/ask_intents.yaml); fact intents not listed answer as "fact".
INTENT_KINDS: dict[str, Kind] = {
    "what_if": "what_if",
    "change_decision": "approvable",
    "failed_criteria": "failed_criteria",
    "criterion": "criterion",
    "guideline": "guideline",
    "study_rating": "study",
    "contrast": "study",
}


def _is_what_if(question: str) -> bool:
    q = question.strip()
    return bool(_WHAT_IF.match(q) and re.match(r"\s*(?:what\s+if|suppose|assuming|if)\b", q, re.I))


def intent_of(question: str) -> Understanding:
    """The understood question; a hypothetical ("what if ...") is what_if before any scoring."""
    u = understand(question)
    if _is_what_if(question):
        return u.model_copy(update={"intent": "what_if"})
    return u


def classify(question: str) -> Kind:
    """The kind of answer a question gets."""
    u = intent_of(question)
    if is_refusal(u.intent if u.intent != "refusal" else None):
        return "refusal"
    return INTENT_KINDS.get(u.intent, "fact")


def _criterion_ids(question: str) -> list[str]:
    return [cid for cid, words in CRITERION_WORDS.items() if re.search(words, question, re.I)]


def _codes_asked(question: str, det: Determination) -> list:
    """The determinations a question is about: codes or regions it names, else all."""
    named = [d for d in det.determinations if d.code in question]
    regions = [r for r, words in REGION_WORDS.items() if re.search(words, question, re.I)]
    named += [d for d in det.determinations if d.region in regions and d not in named]
    return named or list(det.determinations)


class RulesAnswerer:
    """Answers from the case, its determination and the knowledge base, without a language model."""

    def __init__(self, reviewer: Reviewer) -> None:
        self.reviewer = reviewer
        self._views: dict[tuple[str, int], CaseView] = {}

    def view(self, case: Case, det: Determination) -> CaseView:
        """The case with its reading (read once per case and documentation)."""
        key = (case.id, hash(case.request.documentation))
        if key not in self._views:
            facts = reading(case)
            self._views = {key: CaseView(case=case, det=det, facts=facts, sources=Sources(case, facts.injections))}
        view = self._views[key]
        return view if view.det is det else CaseView(case=case, det=det, facts=view.facts, sources=view.sources)

    def answer(self, case: Case, det: Determination, question: str) -> Answer:
        u = intent_of(question)
        if u.intent == "refusal" or is_refusal(u.intent):
            return self._refuse(case, det, question)
        if u.intent in FACT_HANDLERS:
            return FACT_HANDLERS[u.intent](self.view(case, det), u, question)
        if u.intent in ("study_rating", "contrast"):
            handler = study_rating if u.intent == "study_rating" else contrast
            return handler(self.view(case, det), u, question, self.reviewer.criteria, self.reviewer.kb)
        method = {
            "change_decision": self._approvable,
            "failed_criteria": self._failed,
            "criterion": self._criterion,
            "what_if": self._what_if,
            "guideline": self._guideline,
        }[u.intent]
        return method(case, det, question).model_copy(update={"intent": u.intent})

    def _refuse(self, case: Case, det: Determination, question: str) -> Answer:
        return Answer(question=question, kind="refusal", intent="refusal", text=REFUSAL)

    def _approvable(self, case: Case, det: Determination, question: str) -> Answer:
        lines, cites = [], []
        for d in _codes_asked(question, det):
            if d.decision.value == "approve":
                lines += _approved(d)
                cites += d.citations
                continue
            if not d.missing_documentation:
                lines.append(f"{d.code} ({d.description}): recommendation {d.decision.value}. {d.rationale}".rstrip())
                continue
            lines.append(f"{d.code} ({d.description}) would meet the criteria with:")
            lines += [f"  - {m}" for m in d.missing_documentation]
            if d.decision_changing_red_flags:
                lines.append("  Or, without waiting, a documented red flag: " + "; ".join(d.decision_changing_red_flags) + ".")
            if d.alternative_code:
                lines.append(f"  A study that fits the current documentation: {d.alternative_code} ({d.alternative_reason}).")
            cites += [f.citation for f in d.criteria if f.citation and f.status != CriterionStatus.met and f.role != "info"]
        return Answer(question=question, kind="approvable", text="\n".join(lines), citations=_unique(cites))

    def _failed(self, case: Case, det: Determination, question: str) -> Answer:
        lines, cites, quotes = [], [], []
        for d in _codes_asked(question, det):
            unmet = [f for f in d.criteria if f.status != CriterionStatus.met and f.role == "required"]
            lines.append(f"{d.code}: recommendation {d.decision.value} ({d.variant_title or 'no applicable scenario'}).")
            for f in unmet:
                why = f.explanation or ("not documented in the note" if f.status == CriterionStatus.not_documented else "not met")
                lines.append(f"  - {f.label}: {f.status.value.replace('_', ' ')} ({why}).")
                if f.citation:
                    cites.append(f.citation)
                quotes += f.note_quotes[:1]
            if not unmet:
                lines.append("  - No required criterion is unmet." if d.criteria else f"  - {d.rationale}")
        return Answer(
            question=question, kind="failed_criteria", text="\n".join(lines), citations=_unique(cites), note_quotes=quotes[:6]
        )

    def _criterion(self, case: Case, det: Determination, question: str) -> Answer:
        wanted = _criterion_ids(question)
        lines, cites, quotes = [], [], []
        for d in _codes_asked(question, det):
            for f in d.criteria:
                if f.criterion_id not in wanted:
                    continue
                why = f" ({f.explanation})" if f.explanation else ""
                lines.append(f"{d.code} - {f.label}: {f.status.value.replace('_', ' ')}{why}.")
                if f.citation:
                    cites.append(f.citation)
                    lines.append(f'  Guideline: "{f.citation.quote}"')
                quotes += f.note_quotes[:1]
            lines.append(f"  Recommendation for {d.code} stays {d.decision.value} ({d.variant_title}).")
        if not cites and not quotes:
            return self._failed(case, det, question)
        return Answer(
            question=question, kind="criterion", text="\n".join(lines), citations=_unique(cites), note_quotes=quotes[:6]
        )

    def _guideline(self, case: Case, det: Determination, question: str) -> Answer:
        region = next((r for r, words in REGION_WORDS.items() if re.search(words, question, re.I)), None)
        hits = self.reviewer.kb.search(question, 4, self.reviewer.filters(region))
        cites = []
        for hit in hits[:3]:
            sentence = _best_sentence(hit.chunk.text, question)
            if sentence:
                cites.append(
                    GuidelineCitation(
                        chunk_id=hit.chunk.id, quote=sentence, document_title=hit.chunk.document_title, section=hit.chunk.section
                    )
                )
        if not cites:
            return self._refuse(case, det, question)
        text = "\n".join(f'- {c.section}: "{c.quote}"' for c in cites)
        return Answer(question=question, kind="guideline", text="The guidelines say:\n" + text, citations=cites)

    def _what_if(self, case: Case, det: Determination, question: str) -> Answer:
        match = _WHAT_IF.match(question.strip())
        fact = (match.group("fact") if match else "").strip().rstrip("?.! ")
        if not fact:
            return self._refuse(case, det, question)
        statement = f"\nAddendum (hypothetical, asked by the reviewer): Patient has {fact}."
        request = case.request.model_copy(update={"clinical_notes": (case.request.clinical_notes or "") + statement})
        variant = case.model_copy(update={"request": request, "expected": None})
        facts = extract_facts(variant)
        new_flags = [f for f in facts.present_flags() if f not in det.red_flags]
        changed: dict[str, tuple[str, str]] = {}
        lines, cites = [], []
        for d in det.determinations:
            after = self.reviewer.engine.decide_code(variant, facts, d.code)
            if after.decision != d.decision:
                changed[d.code] = (d.decision.value, after.decision.value)
                lines.append(
                    f"{d.code}: the recommendation would change from {d.decision.value} to {after.decision.value} "
                    f"({after.variant_title}, rated {after.rating})."
                )
                cites += after.citations
            else:
                lines.append(f"{d.code}: the recommendation would stay {d.decision.value}.")
        head = (
            f"If the note documented '{fact}', the rules would find red flag(s): {', '.join(new_flags)}."
            if new_flags
            else f"'{fact}' does not add a red flag the rules recognise."
        )
        verdict = "Yes, this would change the recommendation." if changed else "No, this would not change the recommendation."
        return Answer(
            question=question, kind="what_if", text="\n".join([verdict, head, *lines]), citations=_unique(cites), changed=changed
        )


def _approved(d: CodeDetermination) -> list[str]:
    """What an approval rests on: the criteria met that a change in the documentation would undo."""
    rating = f", rated {d.rating}" if d.rating else ""
    lines = [f"{d.code} ({d.description}) is already recommended for approval ({d.variant_title}{rating})."]
    if d.red_flags_present:
        lines.append(f"  It rests on red flag(s) {', '.join(d.red_flags_present)}; without them the 6-week pathway would apply.")
        return lines
    resting = [f.label for f in d.criteria if f.role == "required" and f.status == CriterionStatus.met]
    if resting:
        lines.append("  It rests on: " + "; ".join(resting) + ". Documentation contradicting any of these would change it.")
    return lines


def _unique(cites: list[GuidelineCitation]) -> list[GuidelineCitation]:
    return list({(c.chunk_id, c.quote): c for c in cites}.values())


def _best_sentence(text: str, question: str) -> str | None:
    words = {w for w in re.findall(r"[a-z]{4,}", question.lower())}
    best, score, previous = None, 0, ""
    for raw in re.split(r"(?<=[.!?])\s+|\n+", text):
        sentence = raw.strip().lstrip("- ").strip()
        if sentence.startswith("|") or len(sentence) < 25:
            continue
        overlap = len(words & set(re.findall(r"[a-z]{4,}", sentence.lower())))
        if overlap > score and sentence in text:
            # A sentence that leans on the one before it ("That is the main reason...") is quoted with it.
            joined = f"{previous} {sentence}"
            leaning = re.match(r"(?:That|This|These|It|They|Such)\b", sentence)
            best = joined if leaning and previous and joined in text else sentence
            score = overlap
        previous = sentence
    return best


def check_answer(answer: Answer, case: Case, reviewer: Reviewer) -> list[str]:
    """Problems with an answer's citations (same rules as a determination's)."""
    problems = []
    for c in answer.citations:
        chunk = reviewer.kb.corpus.chunk(c.chunk_id)
        if chunk is None:
            problems.append(f"unknown chunk {c.chunk_id}")
        elif c.quote not in chunk.text:
            problems.append(f"quote not in chunk {c.chunk_id}")
    documentation = case.request.documentation
    for q in answer.note_quotes:
        if q.text not in documentation:
            problems.append("note quote not verbatim in the note")
    for sq in answer.quotes:
        if documentation[sq.start : sq.end] != sq.text:
            problems.append(f"quote at {sq.start}-{sq.end} ({sq.document}) is not verbatim at its span")
    return problems
