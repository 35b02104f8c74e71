"""A perfect drafter: an OpenAI-compatible model (the fake server on 127.0.0.1) that returns the
labeled decision for every code, with valid evidence (the rules reader's verbatim quotes and the
guideline citations the engine found). It measures what the pipeline does with a correct draft that
disagrees with the rules: issue 10 asks that such a drafter score at least as well as the rules alone,
with no unsafe denial.

The labels reach only the fake model, never the pipeline: each case is reviewed as a copy without
``expected``, exactly as ``umreview eval`` does.

Used by tests/test_perfect_drafter.py and benches/bench_perfect_drafter.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from agent.backends.openai import OpenAIBackend
from agent.cases.load import load_cases
from agent.cases.model import Case, Decision
from agent.knowledge.base import KnowledgeBase
from agent.review.reviewer import Reviewer
from agent.settings import Settings
from tests.fake_openai import FakeOpenAI, Reply
from tests.llm_drafts import faithful, with_decision


@dataclass
class Figures:
    """One case set under one reviewer: correct codes, unsafe denials, and the cases behind them."""

    codes: int = 0
    correct: int = 0
    unsafe: list[str] = field(default_factory=list)
    wrong: list[str] = field(default_factory=list)

    @property
    def accuracy(self) -> float:
        return self.correct / self.codes if self.codes else 0.0


def unsafe_denial(label: Decision, got: Decision, labeled_flags: list[str]) -> bool:
    """A deny where the label is not deny and the label approves or the case has a red flag."""
    return got == Decision.deny and label != Decision.deny and (label == Decision.approve or bool(labeled_flags))


def score(reviewer: Reviewer, cases: list[Case], fake: FakeOpenAI | None = None) -> Figures:
    """Review each case (as a copy without labels) and score it against its labels. With ``fake``,
    the model's reply is the perfect draft for that case."""
    figures = Figures()
    for labeled in cases:
        assert labeled.expected is not None
        case = labeled.model_copy(update={"expected": None})
        if fake is not None:
            draft = faithful(reviewer.request_for(case))
            for code, decision in labeled.expected.decisions.items():
                draft = with_decision(draft, code, decision.value)
            fake.enqueue(*[Reply(arguments=draft)] * (reviewer.repair_rounds + 1))
        det = reviewer.review(case)
        if fake is not None:
            fake.queue.clear()
        for code, label in labeled.expected.decisions.items():
            got = det.decisions.get(code)
            figures.codes += 1
            if got == label:
                figures.correct += 1
            else:
                figures.wrong.append(f"{case.id} {code}: {label.value} -> {got.value if got else None}")
            if got is not None and unsafe_denial(label, got, labeled.expected.red_flags):
                figures.unsafe.append(f"{case.id} {code}")
    return figures


def reviewers(kb: KnowledgeBase, fake: FakeOpenAI, data_dir: Path, policy: str | None = None) -> tuple[Reviewer, Reviewer]:
    """(rules alone, perfect drafter) over the same knowledge base and criteria set."""
    settings = Settings(
        data_dir=data_dir,
        openai_base_url=fake.url,
        openai_model="perfect-drafter",
        openai_timeout=5.0,
        openai_max_retries=0,
        llm_cache=False,
    )
    return Reviewer(kb, backend="offline", policy=policy), Reviewer(kb, backend=OpenAIBackend(settings), policy=policy)


def labeled_cases(folder: Path) -> list[Case]:
    return list(load_cases([folder]).cases)
