"""Criteria-set versions with effective dates, and plan / line-of-business routing (issue 14, part 3)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from agent.cases.model import Case, Patient, Procedure, Request
from agent.criteria.model import Policy, load_criteria_set
from agent.criteria.selection import PlanMap, PlanRoute, load_plan_map, select_policy
from agent.errors import CriteriaFileError, NoCriteriaInForce, PlanNotMapped
from agent.knowledge.base import KnowledgeBase
from agent.review.reviewer import Reviewer
from tests.test_criteria import CODES, POLICY, TOPIC

VERSIONED = """\
id: tiny
title: Tiny policy
topics: [tiny-lbp]
rating_decisions: {UA: approve, MBA: refer, UNA: deny}
versions:
  - version: "2025.1"
    effective_from: 2025-01-01
    effective_to: 2025-12-31
    summary: twelve weeks of care
    criteria:
      - id: conservative_care
        label: Twelve weeks of care
        when: {conservative_care_weeks: 12}
        missing: Twelve weeks of dated conservative care
  - version: "2026.1"
    effective_from: 2026-01-01
"""


def tiny(tmp_path: Path, policy: str = VERSIONED) -> Path:
    (tmp_path / "codes.yaml").write_text(CODES)
    (tmp_path / "tiny.criteria.yaml").write_text(TOPIC)
    (tmp_path / "tiny.policy.yaml").write_text(policy)
    return tmp_path


@pytest.mark.parametrize(
    ("on", "version", "weeks"),
    [
        pytest.param(date(2025, 1, 1), "2025.1", 12, id="first-day-of-v1"),
        pytest.param(date(2025, 12, 31), "2025.1", 12, id="last-day-of-v1"),
        pytest.param(date(2026, 1, 1), "2026.1", 6, id="first-day-of-v2"),
        pytest.param(date(2026, 11, 30), "2026.1", 6, id="open-ended-v2"),
    ],
)
def test_version_in_force_on_the_date(tmp_path: Path, on: date, version: str, weeks: int) -> None:
    criteria = load_criteria_set([tiny(tmp_path)], "tiny", on)
    assert criteria.policy.version == version
    assert criteria.topics[0].criterion("conservative_care").when.conservative_care_weeks == weeks


def test_no_version_in_force_is_an_error_naming_set_date_and_versions(tmp_path: Path) -> None:
    with pytest.raises(NoCriteriaInForce) as info:
        load_criteria_set([tiny(tmp_path)], "tiny", date(2024, 6, 1))
    message = str(info.value)
    assert "'tiny'" in message and "2024-06-01" in message and "2025.1 2025-01-01..2025-12-31" in message
    assert info.value.exit_code == 2


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        pytest.param("    effective_to: 2025-12-31\n", "", "overlap", id="open-version-before-another"),
        pytest.param("effective_to: 2025-12-31", "effective_to: 2026-01-01", "overlap", id="overlapping-days"),
        pytest.param("effective_to: 2025-12-31", "effective_to: 2024-12-31", "before effective_from", id="ends-before-start"),
        pytest.param('version: "2026.1"', 'version: "2025.1"', "share a version", id="duplicate-version"),
        pytest.param("topics: [tiny-lbp]\n", 'topics: [tiny-lbp]\nversion: "1"\n', "not both", id="both-styles"),
    ],
)
def test_bad_versions_fail_loudly(tmp_path: Path, old: str, new: str, problem: str) -> None:
    with pytest.raises(CriteriaFileError) as info:
        load_criteria_set([tiny(tmp_path, VERSIONED.replace(old, new, 1))], "tiny", date(2026, 2, 1))
    assert problem in str(info.value)


def test_version_criterion_that_no_topic_has_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CriteriaFileError) as info:
        load_criteria_set(
            [tiny(tmp_path, VERSIONED.replace("- id: conservative_care", "- id: care_typo"))], "tiny", date(2025, 3, 1)
        )
    assert "care_typo" in str(info.value)


def test_single_version_policy_still_loads(tmp_path: Path) -> None:
    criteria = load_criteria_set([tiny(tmp_path, POLICY)], "tiny", date(2026, 5, 1))
    assert (criteria.policy.version, criteria.policy.effective, criteria.policy.effective_to) == ("1", date(2026, 1, 1), None)
    with pytest.raises(NoCriteriaInForce):
        Policy.model_validate({**_policy_dict(), "effective": "2026-01-01"}).version_on(date(2025, 12, 31))


def _policy_dict() -> dict[str, object]:
    return {"id": "p", "title": "P", "version": "1", "topics": ["t"], "rating_decisions": {"UA": "approve"}}


def request(**fields: object) -> Request:
    return Request(patient=Patient(age=50), procedures=[Procedure(code="72148")], clinical_notes="back pain", **fields)


ROUTES = PlanMap(
    routes=[
        PlanRoute(plan="Summit Gold PPO", policy="summit"),
        PlanRoute(line_of_business="medicaid", policy="state-medicaid"),
    ]
)


@pytest.mark.parametrize(
    ("fields", "explicit", "policy", "reason"),
    [
        pytest.param({}, None, "acr-default", "default", id="no-plan-default"),
        pytest.param({"plan": "summit gold ppo"}, None, "summit", "plan", id="plan-case-insensitive"),
        pytest.param({"plan": "Summit Gold PPO", "line_of_business": "medicaid"}, None, "summit", "plan", id="plan-before-lob"),
        pytest.param({"line_of_business": "Medicaid"}, None, "state-medicaid", "line of business", id="lob"),
        pytest.param({"line_of_business": "commercial"}, None, "acr-default", "default", id="unmapped-lob-default"),
        pytest.param({"plan": "Summit Gold PPO"}, "payer-model", "payer-model", "chosen", id="explicit-wins"),
    ],
)
def test_select_policy(fields: dict[str, str], explicit: str | None, policy: str, reason: str) -> None:
    chosen = select_policy(request(**fields), ROUTES, default="acr-default", explicit=explicit)
    assert chosen.policy == policy and reason in chosen.reason


def test_unknown_plan_is_an_error_not_the_default() -> None:
    with pytest.raises(PlanNotMapped) as info:
        select_policy(request(plan="Other HMO"), ROUTES, default="acr-default")
    assert "Other HMO" in str(info.value) and "Summit Gold PPO" in str(info.value) and info.value.exit_code == 2


@pytest.mark.parametrize(
    ("fields", "on", "source"),
    [
        pytest.param(
            {"request_date": date(2026, 2, 1), "note_date": date(2026, 1, 5)}, date(2026, 2, 1), "request date", id="request-date"
        ),
        pytest.param({"note_date": date(2026, 1, 5)}, date(2026, 1, 5), "note date", id="note-date"),
        pytest.param({}, date.today(), "date of review", id="today"),
    ],
)
def test_decision_date(fields: dict[str, date], on: date, source: str) -> None:
    assert request(**fields).decision_date == (on, source)


def test_user_plan_map_overrides_builtin_route_by_route(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "a" / "plans.yaml").write_text("routes:\n  - {plan: X, policy: one}\n  - {plan: Y, policy: two}\n")
    (tmp_path / "b" / "plans.yaml").write_text("routes:\n  - {plan: x, policy: three}\n")
    assert load_plan_map([tmp_path / "a", tmp_path / "b"]).plans() == {"x": "three", "y": "two"}
    (tmp_path / "b" / "plans.yaml").write_text("routes:\n  - {plan: x, line_of_business: y, policy: three}\n")
    with pytest.raises(CriteriaFileError):
        load_plan_map([tmp_path / "b"])


def _lumbar_case(**fields: object) -> Case:
    note = "Office visit 08/10/2026: low back pain. Strength 5/5, reflexes 2+."
    request = Request(patient=Patient(age=50), procedures=[Procedure(code="72148")], clinical_notes=note, **fields)
    return Case(id="routed", request=request)


@pytest.mark.parametrize(
    ("explicit", "fields", "policy", "version"),
    [
        pytest.param(
            None, {"plan": "Summit Health Gold PPO", "request_date": date(2026, 3, 1)}, "summit-spine", "2025.2", id="plan-v1"
        ),
        pytest.param(
            None, {"plan": "Summit Health Gold PPO", "request_date": date(2026, 8, 1)}, "summit-spine", "2026.1", id="plan-v2"
        ),
        pytest.param(None, {"note_date": date(2026, 2, 1)}, "acr-default", "2026.1", id="no-plan-default"),
        pytest.param("payer-model", {"note_date": date(2026, 2, 1)}, "payer-model", "2026.1", id="explicit-payer-v1"),
        pytest.param("payer-model", {"note_date": date(2026, 9, 1)}, "payer-model", "2026.2", id="explicit-payer-v2"),
        pytest.param("payer-model", {"note_date": date(2026, 10, 31)}, "payer-model", "2026.2", id="explicit-payer-v2-last-day"),
        pytest.param("payer-model", {"note_date": date(2026, 11, 1)}, "payer-model", "2026.3", id="explicit-payer-v3"),
        pytest.param(
            None, {"plan": "umreview Model Plan", "request_date": date(2026, 11, 20)}, "payer-model", "2026.3", id="plan-payer-v3"
        ),
    ],
)
def test_reviewer_judges_each_case_by_its_set_and_version(
    kb_offline: KnowledgeBase, explicit: str | None, fields: dict[str, object], policy: str, version: str
) -> None:
    reviewer = Reviewer(kb_offline, backend="offline", policy=explicit, retrieve=False)
    det = reviewer.review(_lumbar_case(**fields))
    assert (det.provenance.criteria_set, det.provenance.criteria_version) == (policy, version)


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        pytest.param({"plan": "Summit Health Gold PPO", "request_date": date(2025, 3, 1)}, NoCriteriaInForce, id="before-v1"),
        pytest.param({"plan": "Unknown Plan"}, PlanNotMapped, id="unknown-plan"),
    ],
)
def test_reviewer_never_falls_back_to_a_default(
    kb_offline: KnowledgeBase, fields: dict[str, object], error: type[Exception]
) -> None:
    with pytest.raises(error):
        Reviewer(kb_offline, backend="offline", retrieve=False).review(_lumbar_case(**fields))
