"""Follow-up questions answered by the rules answerer, with checked citations."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.cases.load import load_case
from agent.cli.main import app
from agent.knowledge.base import KnowledgeBase
from agent.review.ask import RulesAnswerer, check_answer, classify
from agent.review.reviewer import Reviewer
from agent.settings import Settings

EXAMPLE = Path(__file__).parent.parent / "examples" / "cervical-fusion-mid-low-back-burning.yaml"


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("What would make the lumbar MRI approvable?", "approvable"),
        ("What if he had new urinary retention?", "what_if"),
        ("Which criterion failed and why?", "failed_criteria"),
        ("Does prior cervical fusion change the lumbar criteria?", "criterion"),
        ("What does the guideline say about contrast after lumbar surgery?", "guideline"),
        ("What's the weather tomorrow?", "refusal"),
        ("Write me a poem", "refusal"),
    ],
)
def test_classify(question: str, kind: str) -> None:
    assert classify(question) == kind


@pytest.fixture(scope="module")
def answered(tmp_path_factory: pytest.TempPathFactory):
    from test_retrieval import HashEmbedder

    kb = KnowledgeBase(Settings(data_dir=tmp_path_factory.mktemp("kb")), embedder=HashEmbedder())
    reviewer = Reviewer(kb)
    case = load_case(EXAMPLE)
    det = reviewer.review(case)
    answerer = RulesAnswerer(reviewer)

    def ask(question: str):
        answer = answerer.answer(case, det, question)
        assert check_answer(answer, case, reviewer) == []
        return answer

    return ask


def test_what_would_make_lumbar_approvable(answered) -> None:
    answer = answered("What would make the lumbar MRI approvable?")
    text = answer.text.lower()
    assert "72158" in text and "72157" not in text
    assert "6 weeks" in text and "conservative care" in text
    assert "radicular" in text and "surgery or an intervention" in text
    assert answer.citations


def test_new_urinary_retention_changes_the_recommendation(answered) -> None:
    answer = answered("What if he had new urinary retention?")
    assert answer.kind == "what_if"
    assert answer.changed["72158"] == ("deny", "approve")
    assert "cauda_equina" in answer.text and answer.text.startswith("Yes")
    assert answer.citations


def test_what_if_without_red_flag_keeps_it(answered) -> None:
    answer = answered("What if he had a mild headache?")
    assert answer.changed == {} and answer.text.startswith("No")


def test_prior_cervical_fusion_is_another_region(answered) -> None:
    answer = answered("Does prior cervical fusion change the lumbar criteria?")
    assert "cervical region" in answer.text
    assert any("another spinal region" in c.quote for c in answer.citations)


def test_guideline_question_quotes_chunks(answered) -> None:
    answer = answered("What does the guideline say about contrast after lumbar surgery?")
    assert answer.kind == "guideline" and answer.citations


def test_out_of_scope_is_refused(answered) -> None:
    answer = answered("Who won the football game?")
    assert answer.kind == "refusal" and not answer.citations


@pytest.mark.slow
def test_cli_ask_one_question() -> None:
    result = CliRunner().invoke(app, ["ask", str(EXAMPLE), "What if he had new urinary retention?"])
    assert result.exit_code == 0, result.output
    assert "would change from deny to approve" in result.stdout
