"""The reviewer-facing service: one object the CLI and the web app share.

It owns the knowledge base, one Reviewer per criteria set and the audit store, and writes an audit
event for every action (reviewed, asked, letter drafted, signed). Note text goes to the audit
store (the record of the case), never to logs.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from agent.ask import Answer, RulesAnswerer, check_answer
from agent.cases import Case
from agent.knowledge import KnowledgeBase
from agent.review import Reviewer
from agent.settings import Settings, get_settings
from agent.store import ReviewRecord, Store


class Service:
    def __init__(self, settings: Settings | None = None, *, kb: KnowledgeBase | None = None, store: Store | None = None) -> None:
        self.settings = settings or get_settings()
        self.kb = kb or KnowledgeBase(self.settings)
        self.store = store or Store(settings=self.settings)
        self._reviewers: dict[str, Reviewer] = {}
        self._lock = threading.Lock()

    def reviewer(self, policy: str | None = None) -> Reviewer:
        key = policy or self.settings.policy
        with self._lock:
            if key not in self._reviewers:
                self._reviewers[key] = Reviewer(self.kb, policy=key)
            return self._reviewers[key]

    def submit(self, case: Case, *, actor: str, received_at: datetime | None = None, policy: str | None = None) -> ReviewRecord:
        """Review a case and store the recommendation (a ``reviewed`` event)."""
        clean = case.model_copy(update={"expected": None})  # labels never reach the reviewer
        determination = self.reviewer(policy).review(clean)
        return self.store.save_review(clean, determination, actor=actor, received_at=received_at)

    def get(self, review_id: str) -> ReviewRecord:
        return self.store.get_review(review_id)

    def ask(self, review_id: str, question: str, *, actor: str) -> tuple[Answer, list[str]]:
        """Answer a follow-up question with checked citations; the Q and A go into the audit log."""
        record = self.get(review_id)
        reviewer = self.reviewer(record.criteria_set)
        answer = RulesAnswerer(reviewer).answer(record.case, record.determination, question)
        problems = check_answer(answer, record.case, reviewer)
        payload: dict[str, Any] = {
            "question": question,
            "kind": answer.kind,
            "answer": answer.text,
            "citations": [c.chunk_id for c in answer.citations],
            "citation_problems": problems,
        }
        self.store.record_event(review_id, "asked", actor=actor, payload=payload)
        return answer, problems

    def sign(self, review_id: str, **kwargs: Any) -> ReviewRecord:
        return self.store.sign(review_id, **kwargs)

    def letter(self, review_id: str, *, fmt: str, audience: str, line_of_business: str, actor: str) -> bytes:
        """The denial letter of a stored review in ``fmt`` (md, html, pdf, docx); DRAFT until signed."""
        import tempfile
        from pathlib import Path

        from agent.letters import Signature, draft_letter

        record = self.get(review_id)
        signature = None
        if record.signoff is not None:
            signature = Signature(
                reviewer=record.signoff.reviewer,
                credentials=record.signoff.credentials,
                decision=record.signoff.decision,  # type: ignore[arg-type]  # uphold | overturn, checked by the store
                signed_at=record.signoff.at,
                reason=record.signoff.reason,
            )
        letter = draft_letter(
            record.case,
            record.determination,
            audience=audience,  # type: ignore[arg-type]  # validated by the API layer
            line_of_business=line_of_business,  # type: ignore[arg-type]  # validated by the API layer
            signature=signature,
            received_at=record.received_at,
            due_at=record.due_at,
        )
        if fmt == "md":
            content = letter.to_markdown().encode()
        elif fmt == "html":
            content = letter.to_html().encode()
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"letter.{fmt}"
                (letter.to_pdf if fmt == "pdf" else letter.to_docx)(path)
                content = path.read_bytes()
        payload = {"format": fmt, "audience": audience, "line_of_business": line_of_business, "final": signature is not None}
        self.store.record_event(review_id, "letter_drafted", actor=actor, payload=payload)
        return content
