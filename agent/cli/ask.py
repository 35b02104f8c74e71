"""``umreview ask``: follow-up questions about a case, one-shot or as an interactive session."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from agent.errors import NotFoundError

if TYPE_CHECKING:
    from agent.cases.determination import Determination
    from agent.cases.model import Case
    from agent.review.reviewer import Reviewer

out = Console()


def resolve_case(target: str, reviewer: Reviewer) -> tuple[Case, Determination, str | None]:
    """A case file (reviewed now, not stored) or a stored review id (case, determination, review id)."""
    from agent.cases.load import load_case

    path = Path(target)
    if path.exists():
        case = load_case(path)
        return case, reviewer.review(case), None
    if not target.startswith("R-"):
        raise NotFoundError(f"{target!r} is neither a case file nor a review id (review ids look like R-...)")
    from agent.store.reviews import Store

    record = Store().get_review(target)
    return record.case, record.determination, record.id


def register(app: typer.Typer) -> None:
    @app.command()
    def ask(
        target: Annotated[str, typer.Argument(help="A case file, or a review id from `umreview history`")],
        question: Annotated[str | None, typer.Argument(help="The question; omit it for an interactive session")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print answers as JSON")] = False,
        policy: Annotated[str | None, typer.Option("--policy", "-p", help="Criteria set id")] = None,
    ) -> None:
        """Ask about a case: its documentation (care, onset, findings, red flags, surgery, imaging), the
        recommendation (why, what would change it, what if), and how the guideline rates other studies."""
        from agent.knowledge.base import KnowledgeBase
        from agent.review.ask import RulesAnswerer, check_answer
        from agent.review.reviewer import Reviewer

        reviewer = Reviewer(KnowledgeBase(), policy=policy)
        case, det, review_id = resolve_case(target, reviewer)
        answerer = RulesAnswerer(reviewer)
        actor = os.environ.get("USER", "cli")

        def answer_one(q: str) -> None:
            ans = answerer.answer(case, det, q)
            problems = check_answer(ans, case, reviewer)
            if review_id:  # questions about a stored review go into its audit trail
                from agent.store.reviews import Store

                payload = {
                    "question": q,
                    "kind": ans.kind,
                    "intent": ans.intent,
                    "answer": ans.text,
                    "citations": [c.chunk_id for c in ans.citations],
                }
                Store().record_event(review_id, "asked", actor=actor, payload=payload)
            if as_json:
                out.print_json(ans.model_dump_json())
                return
            out.print(ans.text, markup=False, highlight=False)
            for sq in ans.quotes:
                out.print(f'  [dim]quoted {sq.cite()}: "{sq.text.strip()}"[/]', highlight=False)
            for c in ans.citations:
                out.print(f'  [dim]cited {c.chunk_id}: "{c.quote}"[/]', highlight=False)
            for p in problems:
                out.print(f"  [red]citation problem: {p}[/]")

        if question:
            answer_one(question)
            return
        out.print(f"Case {case.id}: ask a question (empty line or 'exit' to stop).")
        while True:
            try:
                q = input("> ").strip()
            except EOFError:
                break
            if not q or q.lower() in ("exit", "quit"):
                break
            answer_one(q)
