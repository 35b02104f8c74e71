"""``umreview policy lint / test / draft / accept`` (issue 14, part 4). ``draft`` runs over real HTTP against the
fake OpenAI server on 127.0.0.1: citations the policy does not hold are refused, and an invalid draft never
becomes active."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_openai import FakeOpenAI, Reply
from typer.testing import CliRunner

from agent.cli.main import app
from agent.criteria.lint import lint_policy
from agent.criteria.model import CodeTable, Policy, Topic
from agent.knowledge.base import KnowledgeBase
from agent.settings import get_settings

runner = CliRunner()
ROOT = Path(__file__).parent.parent


@pytest.mark.parametrize("policy_id", ["acr-default", "payer-model", "summit-spine"])
def test_lint_passes_on_every_shipped_set(policy_id: str) -> None:
    result = runner.invoke(app, ["policy", "lint", policy_id])
    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s)" in result.output


def test_lint_unknown_set_is_bad_input() -> None:
    result = runner.invoke(app, ["policy", "lint", "no-such-set"])
    assert result.exit_code == 2 and "no-such-set" in result.output


CODES = CodeTable.model_validate(
    {
        "version": "t",
        "codes": {
            "72148": {"region": "lumbar", "procedure": "mri_wo", "label": "MRI L"},
            "72131": {"region": "lumbar", "procedure": "ct_wo", "label": "CT L"},
            "72132": {"region": "lumbar", "procedure": "ct_with", "label": "CT L with", "refer": "myelography"},
        },
    }
)
CITE = {"quote": "a sentence of the policy"}
TOPIC: dict[str, Any] = {
    "id": "t",
    "title": "T",
    "version": "1",
    "regions": ["lumbar"],
    "red_flags": ["cauda_equina"],
    "approval_pathway": "care",
    "criteria": [{"id": "care", "label": "Care", "when": {"conservative_care_weeks": 6}, "missing": "care", "cite": CITE}],
    "variants": [
        {
            "id": "flag",
            "title": "F",
            "kind": "red_flag",
            "when": {"red_flag": "cauda_equina"},
            "ratings": {"mri_wo": "UA", "ct_wo": "UA"},
            "cite": CITE,
        },
        {"id": "care", "title": "C", "kind": "pathway", "when": {"criterion": "care"}, "ratings": {"mri_wo": "UA"}, "cite": CITE},
        {"id": "none", "title": "N", "kind": "default", "ratings": {"mri_wo": "UNA"}, "cite": CITE},
    ],
}


def _variant(**fields: Any) -> dict[str, Any]:
    return {"id": "extra", "title": "X", "kind": "pathway", "ratings": {"mri_wo": "UA"}, "cite": CITE, **fields}


@pytest.mark.parametrize(
    ("change", "kind", "where"),
    [
        pytest.param(lambda t: t, None, None, id="clean"),
        pytest.param(
            lambda t: t["variants"].append(_variant(kind="default")), "unreachable_variant", "extra", id="second-default"
        ),
        pytest.param(
            lambda t: t["variants"].append(_variant(kind="red_flag", when={"red_flag": "myelopathy"})),
            "unreachable_variant",
            "extra",
            id="flag-the-topic-does-not-list",
        ),
        pytest.param(
            lambda t: t["variants"].append(_variant(when={"all": [{"criterion": "care"}, {"not": {"criterion": "care"}}]})),
            "unreachable_variant",
            "extra",
            id="condition-and-its-negation",
        ),
        pytest.param(
            lambda t: t["criteria"].append({"id": "exam", "label": "E", "when": {"fact": "neuro_deficit"}, "missing": "exam"}),
            "unused_condition",
            "exam",
            id="required-criterion-never-referenced",
        ),
        pytest.param(lambda t: t["variants"][0]["ratings"].pop("ct_wo"), "code_without_rule", "72131", id="ct-never-rated"),
        pytest.param(
            lambda t: t["variants"][1].update(cite={"quote": "words the policy never says"}),
            "citation_not_verbatim",
            "care",
            id="quote-not-in-document",
        ),
    ],
)
def test_lint_finds(change: Any, kind: str | None, where: str | None) -> None:
    raw = copy.deepcopy(TOPIC)
    change(raw)
    topic = Topic.model_validate({**raw, "document": "doc"})
    policy = Policy.model_validate(
        {
            "id": "p",
            "title": "P",
            "version": "1",
            "effective": "2026-01-01",
            "topics": ["t"],
            "rating_decisions": {"UA": "approve"},
        }
    )
    problems = lint_policy(policy, {"t": topic}, CODES, lambda q, _doc: q == CITE["quote"])
    if kind is None:
        assert problems == []
    else:
        assert [(p.kind, p.where.rsplit(".", 1)[-1]) for p in problems] == [(kind, where)]


def test_policy_test_shows_versions_rules_and_unexercised_rules() -> None:
    result = runner.invoke(app, ["policy", "test", "summit-spine", str(ROOT / "evals" / "payer-2"), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    runs = {c["id"]: c for c in report["cases"]}
    assert runs["s2-lbp-l5-radic-5wk-pt-2025-version"]["version"] == "2025.2"
    assert runs["s2-lbp-l5-radic-5wk-pt-2026-version"]["version"] == "2026.1"
    assert "summit-lumbar/sl-b" in runs["s2-lbp-l5-radic-5wk-pt-2026-version"]["rules"]
    assert "summit-lumbar/reevaluation" in runs["s2-lbp-radic-video-visit-only"]["rules"]
    assert "summit-thoracic/st-b" in report["unexercised"]
    assert report["codes_right"] >= 14


def test_policy_test_fails_below_min_accuracy() -> None:
    result = runner.invoke(app, ["policy", "test", "summit-spine", str(ROOT / "evals" / "payer-2"), "--min-accuracy", "1.0"])
    assert result.exit_code == 1


# --- draft and accept -------------------------------------------------------------------------------

POLICY_TEXT = """Acme Health lumbar MRI policy, version 2026.1.

MRI of the lumbar spine is covered at once when suspected cauda equina syndrome is documented.
Without a red flag, MRI of the lumbar spine is covered after at least 6 weeks of conservative care.
Otherwise MRI of the lumbar spine is not covered.
"""
Q_FLAG = "MRI of the lumbar spine is covered at once when suspected cauda equina syndrome is documented."
Q_CARE = "MRI of the lumbar spine is covered after at least 6 weeks of conservative care."
Q_NONE = "Otherwise MRI of the lumbar spine is not covered."


def good_draft() -> dict[str, Any]:
    return {
        "policy": {
            "id": "acme-lumbar",
            "title": "Acme Health lumbar MRI",
            "version": "2026.1",
            "effective": "2026-01-01",
            "topics": ["acme-lumbar"],
            "rating_decisions": {"UA": "approve", "MBA": "refer", "UNA": "deny"},
        },
        "criteria": {
            "topics": [
                {
                    "id": "acme-lumbar",
                    "title": "Acme lumbar MRI",
                    "version": "2026.1",
                    "regions": ["lumbar"],
                    "red_flags": ["cauda_equina"],
                    "approval_pathway": "acme-care",
                    "criteria": [
                        {
                            "id": "care",
                            "label": "6 weeks of care",
                            "when": {"conservative_care_weeks": 6},
                            "missing": "6 weeks of dated conservative care",
                            "cite": {"quote": Q_CARE},
                        }
                    ],
                    "variants": [
                        {
                            "id": "acme-flag",
                            "title": "Cauda equina",
                            "kind": "red_flag",
                            "when": {"red_flag": "cauda_equina"},
                            "ratings": {"mri_wo": "UA"},
                            "cite": {"quote": Q_FLAG},
                        },
                        {
                            "id": "acme-care",
                            "title": "After care",
                            "kind": "pathway",
                            "when": {"criterion": "care"},
                            "ratings": {"mri_wo": "UA"},
                            "cite": {"quote": Q_CARE},
                        },
                        {
                            "id": "acme-none",
                            "title": "Not covered",
                            "kind": "default",
                            "ratings": {"mri_wo": "UNA"},
                            "cite": {"quote": Q_NONE},
                        },
                    ],
                }
            ]
        },
    }


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    server = FakeOpenAI().start()
    for name, value in {
        "UMREVIEW_BACKEND": "openai",
        "UMREVIEW_OPENAI_BASE_URL": server.url,
        "UMREVIEW_OPENAI_MODEL": "fake-model",
        "UMREVIEW_OPENAI_MAX_RETRIES": "0",
        "UMREVIEW_LLM_CACHE": "false",
        "UMREVIEW_REPAIR_ROUNDS": "1",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    yield server
    server.stop()
    print("fake OpenAI server log:", *server.log, sep="\n  ")


@pytest.fixture
def policy_file(tmp_path: Path) -> Path:
    path = tmp_path / "acme-lumbar-mri.txt"
    path.write_text(POLICY_TEXT)
    return path


def active() -> list[str]:
    return KnowledgeBase(get_settings()).policies()


def test_draft_offline_explains_it_needs_a_model(policy_file: Path) -> None:
    result = runner.invoke(app, ["policy", "draft", str(policy_file)])
    assert result.exit_code == 2
    assert "needs a language model" in result.output and "UMREVIEW_OPENAI_BASE_URL" in result.output


def test_draft_is_proposed_then_accepted(fake: FakeOpenAI, policy_file: Path) -> None:
    fake.enqueue(Reply(arguments=good_draft()))
    result = runner.invoke(app, ["policy", "draft", str(policy_file)])
    assert result.exit_code == 0, result.output
    assert "proposed criteria set acme-lumbar" in result.output and "0 error(s)" in result.output
    assert "acme-lumbar" not in active()  # a proposal is not a criteria set yet
    assert Q_CARE in fake.requests[0]["messages"][1]["content"]  # the model saw the policy text
    lint = runner.invoke(app, ["policy", "lint", "acme-lumbar"])
    assert lint.exit_code == 0, lint.output
    accepted = runner.invoke(app, ["policy", "accept", "acme-lumbar", "--reviewer", "Dr. Ana Lee"])
    assert accepted.exit_code == 0, accepted.output
    assert "acme-lumbar" in active()
    record = json.loads((get_settings().guidelines_dir / "accepted" / "acme-lumbar.json").read_text())
    assert record["accepted_by"] == "Dr. Ana Lee" and record["source"] == policy_file.name


def _with_quote(quote: str) -> dict[str, Any]:
    draft = good_draft()
    draft["criteria"]["topics"][0]["variants"][1]["cite"]["quote"] = quote
    return draft


def test_citation_not_in_the_policy_is_sent_back_then_fixed(fake: FakeOpenAI, policy_file: Path) -> None:
    invented = "MRI of the lumbar spine is covered after 2 weeks of rest."
    fake.enqueue(Reply(arguments=_with_quote(invented)), Reply(arguments=good_draft()))
    result = runner.invoke(app, ["policy", "draft", str(policy_file), "--json"])
    assert result.exit_code == 0, result.output
    feedback = fake.requests[1]["messages"][-1]["content"]
    assert "citation not found verbatim" in feedback and "acme-care" in feedback
    assert json.loads(result.output)["attempts"] == 2


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(_with_quote("MRI of the lumbar spine is covered after 2 weeks of rest."), id="invented-citation"),
        pytest.param({**good_draft(), "policy": {**good_draft()["policy"], "rating_decisions": {"UA": "accept"}}}, id="schema"),
        pytest.param({**good_draft(), "policy": {**good_draft()["policy"], "id": "payer-model"}}, id="replaces-an-active-set"),
    ],
)
def test_invalid_draft_is_refused_and_never_active(fake: FakeOpenAI, policy_file: Path, bad: dict[str, Any]) -> None:
    fake.enqueue(Reply(arguments=bad), Reply(arguments=bad))
    result = runner.invoke(app, ["policy", "draft", str(policy_file)])
    assert result.exit_code == 1, result.output
    assert "draft refused, nothing written" in result.output
    assert not (get_settings().guidelines_dir / "proposed").exists()
    assert "acme-lumbar" not in active()
    assert len(fake.requests) == 2  # one repair round, then refused


def test_accept_refuses_a_proposal_that_no_longer_lints(fake: FakeOpenAI, policy_file: Path) -> None:
    fake.enqueue(Reply(arguments=good_draft()))
    assert runner.invoke(app, ["policy", "draft", str(policy_file)]).exit_code == 0
    proposal = get_settings().guidelines_dir / "proposed" / "acme-lumbar"
    criteria = proposal / "acme-lumbar-mri.criteria.yaml"
    criteria.write_text(criteria.read_text().replace(Q_NONE, "Everything is covered."))  # edited by hand
    result = runner.invoke(app, ["policy", "accept", "acme-lumbar", "--reviewer", "Dr. Ana Lee"])
    assert result.exit_code == 2 and "lint error" in result.output
    assert "acme-lumbar" not in active()


def test_accept_without_a_proposal_is_bad_input() -> None:
    result = runner.invoke(app, ["policy", "accept", "nothing-here", "--reviewer", "Dr. Ana Lee"])
    assert result.exit_code == 2 and "policy draft" in result.output


def test_review_reports_an_unmapped_plan_and_reviews_the_rest(tmp_path: Path) -> None:
    case = (
        "id: {id}\nrequest:\n  patient: {{age: 50}}\n  procedures: [{{code: '72148'}}]\n"
        "  plan: {plan}\n  clinical_notes: back pain\n"
    )
    (tmp_path / "a.yaml").write_text(case.format(id="a", plan="Nobody Plan"))
    (tmp_path / "b.yaml").write_text(case.format(id="b", plan="Summit Health Gold PPO"))
    result = runner.invoke(app, ["review", str(tmp_path), "--no-store", "--json"])
    assert result.exit_code == 2
    assert "'Nobody Plan' is not in the plan map" in result.output
    assert '"criteria_set": "summit-spine"' in result.output
