"""Issue 10: a drafter that returns the labeled decisions with valid evidence (tests/perfect_drafter.py),
served over real HTTP, scores at least as well as the rules alone, with no unsafe denial. Where the
model's correct draft disagrees with the rules' deny, the pipeline refers rather than falling back to
the deny. benches/bench_perfect_drafter.py prints the figures for every set.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.cases.model import Decision
from agent.knowledge.base import KnowledgeBase
from agent.settings import Settings
from tests.fake_openai import FakeOpenAI
from tests.perfect_drafter import labeled_cases, reviewers, score, unsafe_denial

EVALS = Path(__file__).parent.parent / "evals"


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def kb(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    return KnowledgeBase(Settings(data_dir=tmp_path_factory.mktemp("kb")))


@pytest.mark.parametrize("name", ["holdout-4", "holdout-5"])
def test_perfect_drafter_at_least_as_good_as_rules(name: str, kb: KnowledgeBase, fake: FakeOpenAI, tmp_path: Path) -> None:
    rules, drafter = reviewers(kb, fake, tmp_path)
    cases = labeled_cases(EVALS / name)
    alone = score(rules, cases)
    perfect = score(drafter, cases, fake)
    print(f"{name}: rules {alone.correct}/{alone.codes}, perfect drafter {perfect.correct}/{perfect.codes}")
    assert perfect.unsafe == [], perfect.unsafe
    assert perfect.correct >= alone.correct, perfect.wrong


@pytest.mark.parametrize(
    ("label", "got", "flags", "unsafe"),
    [
        (Decision.approve, Decision.deny, [], True),
        (Decision.refer, Decision.deny, ["fracture"], True),
        (Decision.refer, Decision.deny, [], False),
        (Decision.deny, Decision.deny, ["fracture"], False),
        (Decision.approve, Decision.refer, [], False),
    ],
)
def test_unsafe_denial_definition(label: Decision, got: Decision, flags: list[str], unsafe: bool) -> None:
    assert unsafe_denial(label, got, flags) is unsafe
