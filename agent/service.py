"""The reviewer-facing service: one object the CLI and the web app share.

It owns the knowledge base, one Reviewer per criteria set and the audit store, and writes an audit
event for every action (reviewed, asked, letter drafted, signed). Note text goes to the audit
store (the record of the case), never to logs.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from agent.cases.attachments import require_read
from agent.cases.model import Case
from agent.cases.pas_inquire import Inquiry
from agent.cases.pas_submit import Body, Found, pas_inquire, pas_submit
from agent.cases.reading import Reading
from agent.knowledge.base import KnowledgeBase
from agent.letters.draft import letter_from_record
from agent.letters.model import Audience, Letter, LetterFormat, LineOfBusiness, PlanInfo
from agent.letters.render import letter_bytes
from agent.review.ask import Answer, RulesAnswerer, check_answer
from agent.review.limits import check_limits
from agent.review.reading_view import reading_of
from agent.review.reviewer import Reviewer
from agent.settings import Settings, get_settings
from agent.store.audit import SUBMISSION_PREFIX, EventKind
from agent.store.reviews import ReviewRecord, Store


class Service:
    def __init__(self, settings: Settings | None = None, *, kb: KnowledgeBase | None = None, store: Store | None = None) -> None:
        self.settings = settings or get_settings()
        self.kb = kb or KnowledgeBase(self.settings)
        self.store = store or Store(settings=self.settings)
        self._reviewers: dict[str, Reviewer] = {}
        self._lock = threading.Lock()

    def reviewer(self, policy: str | None = None) -> Reviewer:
        """The reviewer of ``policy``; without one, each request's plan (or the default set) chooses."""
        key = policy or ""
        with self._lock:
            if key not in self._reviewers:
                self._reviewers[key] = Reviewer(self.kb, policy=policy or None)
            return self._reviewers[key]

    def submit(self, case: Case, *, actor: str, received_at: datetime | None = None, policy: str | None = None) -> ReviewRecord:
        """Review a case and store the recommendation (a ``reviewed`` event); a case over the per-request
        limits (``agent.review.limits``) is refused first."""
        check_limits(case, self.settings)  # before any work: a request over a limit costs nothing
        require_read(case)  # an attachment path without its text cannot be resolved here
        clean = case.model_copy(update={"expected": None})  # labels never reach the reviewer
        determination = self.reviewer(policy).review(clean)
        return self.store.save_review(clean, determination, actor=actor, received_at=received_at)

    def fhir_submit(self, body: Body, *, actor: str) -> tuple[int, dict[str, Any]]:
        """Da Vinci PAS ``$submit``: review the request and keep what a later ``$inquire`` needs (a
        ``pas_submitted`` event beside the review). (HTTP status, response Bundle or OperationOutcome)."""

        def remember(review_id: str | None, record: dict[str, Any]) -> str | None:
            if review_id is None:
                return self.store.record_submission(record, actor=actor)
            self.store.record_event(review_id, EventKind.pas_submitted, actor=actor, payload=record)
            return None

        return pas_submit(body, lambda case: self.submit(case, actor=actor), remember=remember)

    def fhir_inquire(self, body: Body) -> tuple[int, dict[str, Any]]:
        """Da Vinci PAS ``$inquire``: the current answer of each earlier ``$submit`` matching the inquiry:
        pended until a physician signs, then the signed decisions."""

        def find(inquiry: Inquiry) -> list[Found]:
            found = []
            for event in self.store.events(kind=EventKind.pas_submitted):
                reference = event.review_id.removeprefix(SUBMISSION_PREFIX)
                if not inquiry.matches(reference, event.payload):
                    continue
                if event.review_id.startswith(SUBMISSION_PREFIX):  # answered without a review: as it was answered
                    found.append(Found(None, reference, event.payload, None, final=False))
                    continue
                record = self.get(event.review_id)
                signed = record.final_decisions
                det = record.determination.model_copy(
                    update={
                        "determinations": [
                            d.model_copy(update={"decision": signed[d.code]}) for d in record.determination.determinations
                        ]
                    }
                )
                found.append(Found(record.id, record.id, event.payload, det, final=record.is_final))
            return found

        return pas_inquire(body, find)

    def get(self, review_id: str) -> ReviewRecord:
        return self.store.get_review(review_id)

    def reading(self, record: ReviewRecord) -> Reading:
        """How the rules reader read the review's documentation (documents, sections, care timeline, red
        flags): kept with the determination; a review stored before readings were kept is read again."""
        return reading_of(record.case, record.determination)

    def ask(self, review_id: str, question: str, *, actor: str) -> tuple[Answer, list[str]]:
        """Answer a follow-up question with checked citations; the Q and A go into the audit log."""
        record = self.get(review_id)
        reviewer = self.reviewer(record.criteria_set)
        answer = RulesAnswerer(reviewer).answer(record.case, record.determination, question)
        problems = check_answer(answer, record.case, reviewer)
        payload: dict[str, Any] = {
            "question": question,
            "kind": answer.kind,
            "intent": answer.intent,
            "answer": answer.text,
            "citations": [c.chunk_id for c in answer.citations],
            "citation_problems": problems,
        }
        self.store.record_event(review_id, "asked", actor=actor, payload=payload)
        return answer, problems

    def sign(self, review_id: str, **kwargs: Any) -> ReviewRecord:
        return self.store.sign(review_id, **kwargs)

    def draft_letter(
        self,
        review_id: str,
        *,
        audience: Audience,
        line_of_business: LineOfBusiness,
        actor: str,
        fmt: LetterFormat,
        plan: PlanInfo | None = None,
    ) -> Letter:
        """The denial letter of a stored review (DRAFT until signed), logged as ``letter_drafted``."""
        record = self.get(review_id)
        letter = letter_from_record(record, audience=audience, line_of_business=line_of_business, plan=plan)
        payload = {"format": fmt, "audience": audience, "line_of_business": line_of_business, "final": letter.status == "final"}
        self.store.record_event(review_id, "letter_drafted", actor=actor, payload=payload)
        return letter

    def letter(
        self, review_id: str, *, fmt: LetterFormat, audience: Audience, line_of_business: LineOfBusiness, actor: str
    ) -> bytes:
        """The denial letter of a stored review in ``fmt`` (md, html, pdf, docx); DRAFT until signed."""
        letter = self.draft_letter(review_id, audience=audience, line_of_business=line_of_business, actor=actor, fmt=fmt)
        return letter_bytes(letter, fmt)
