"""Policy authoring: lint a criteria set, test it on labeled cases, and find its proposed drafts.

A set is named by its id (an active set: the built-in guidelines and ``<data dir>/guidelines``) or by
a proposal directory (``<data dir>/guidelines/proposed/<id>/``, written by ``policy draft``), which is
read together with the active directories but is not active itself: the knowledge base reads only
the top level of each guideline directory.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from agent.cases.model import Case
from agent.criteria.lint import PolicyProblem, lint_policy
from agent.criteria.model import CodeTable, Policy, Topic, load_code_table, load_policies, load_topics
from agent.errors import CriteriaFileError, UmreviewError
from agent.knowledge.base import KnowledgeBase
from agent.knowledge.documents import corpus_for
from agent.settings import Settings

PROPOSED = "proposed"


class ScopedKnowledgeBase(KnowledgeBase):
    """The knowledge base plus extra guideline directories (a proposal under review)."""

    def __init__(self, settings: Settings | None = None, *, extra: list[Path] | None = None) -> None:
        super().__init__(settings)
        self.extra = list(extra or [])

    @property
    def directories(self) -> list[Path]:
        return [*super().directories, *self.extra]


def proposal_dir(settings: Settings, policy_id: str) -> Path:
    return settings.guidelines_dir / PROPOSED / policy_id


def knowledge_for(target: str, settings: Settings) -> tuple[ScopedKnowledgeBase, str]:
    """The knowledge base that holds ``target`` (a set id, a proposal id or a proposal directory) and the set id."""
    path = Path(target)
    if path.is_dir() and list(path.glob("*.policy.yaml")):
        policies = load_policies(path)
        return ScopedKnowledgeBase(settings, extra=[path]), next(iter(policies))
    proposed = proposal_dir(settings, target)
    base = ScopedKnowledgeBase(settings)
    if target not in base.policies() and proposed.is_dir():
        return ScopedKnowledgeBase(settings, extra=[proposed]), target
    return base, target


def _parts(kb: KnowledgeBase, policy_id: str) -> tuple[Policy, dict[str, Topic], CodeTable]:
    dirs = [d for d in kb.directories if d.is_dir()]
    topics: dict[str, Topic] = {}
    codes: CodeTable | None = None
    for d in dirs:
        topics.update(load_topics(d))
        if (d / "codes.yaml").exists():
            table = load_code_table(d)
            codes = table if codes is None else CodeTable(version=codes.version, codes={**codes.codes, **table.codes})
    if codes is None:
        raise CriteriaFileError(dirs[0], "codes.yaml", "no code table found")
    return kb.policy(policy_id), topics, codes


def lint_set(kb: KnowledgeBase, policy_id: str, *, require_cites: bool = False) -> list[PolicyProblem]:
    """Lint problems of a set; a file that does not load is one ``schema`` error naming file and field."""
    try:
        policy, topics, codes = _parts(kb, policy_id)
        corpus = corpus_for([d for d in kb.directories if d.is_dir()])
    except CriteriaFileError as exc:
        return [PolicyProblem(severity="error", kind="schema", where=exc.path, message=str(exc))]
    return lint_policy(policy, topics, codes, lambda q, doc: corpus.find_quote(q, doc) is not None, require_cites=require_cites)


class CaseRun(BaseModel):
    id: str
    version: str | None = None
    expected: dict[str, str] = Field(default_factory=dict)
    predicted: dict[str, str] = Field(default_factory=dict)
    rules: list[str] = Field(default_factory=list, description="topic/variant and topic/criterion ids that decided")
    error: str | None = None

    @property
    def correct(self) -> bool:
        return self.error is None and all(self.predicted.get(c) == d for c, d in self.expected.items())

    @property
    def unsafe(self) -> bool:
        return any(self.predicted.get(c) == "deny" and d == "approve" for c, d in self.expected.items())


class PolicyTestReport(BaseModel):
    policy: str
    cases: list[CaseRun]
    rules: list[str] = Field(description="every rule of the set: topic/variant and topic/criterion (not info)")

    @property
    def unexercised(self) -> list[str]:
        used = {r for c in self.cases for r in c.rules}
        return [r for r in self.rules if r not in used]

    @property
    def codes(self) -> tuple[int, int]:
        pairs = [(c.predicted.get(k) == v) for c in self.cases for k, v in c.expected.items()]
        return sum(pairs), len(pairs)


def _rules_of(kb: KnowledgeBase, policy_id: str) -> list[str]:
    policy, topics, _ = _parts(kb, policy_id)
    names = dict.fromkeys(n for v in policy.versions for n in (v.topics or policy.topics))
    rules = []
    for n in names:
        topic = topics[n]
        rules += [f"{n}/{v.id}" for v in topic.variants]
        rules += [f"{n}/{c.id}" for c in topic.criteria if c.role != "info"]
    return rules


def run_policy_test(kb: KnowledgeBase, policy_id: str, cases: list[Case]) -> PolicyTestReport:
    """Review each labeled case with ``policy_id`` (the version in force on its date; offline rules backend)
    and record the rules that decided each code: the variant chosen and the criteria its condition names."""
    from agent.criteria.conditions import refs
    from agent.review.reviewer import Reviewer

    reviewer = Reviewer(kb, backend="offline", policy=policy_id, retrieve=False)
    runs = []
    for case in cases:
        run = CaseRun(id=case.id, expected={k: v.value for k, v in (case.expected.decisions if case.expected else {}).items()})
        try:
            target = reviewer.for_case(case)
            det = target.review(case.model_copy(update={"expected": None}))
        except UmreviewError as exc:
            run.error = str(exc)
            runs.append(run)
            continue
        run.version = target.criteria.policy.version
        topics = {t.id: t for t in target.criteria.topics}
        for d in det.determinations:
            run.predicted[d.code] = d.decision.value
            if d.topic_id and d.variant_id and d.topic_id in topics:
                topic = topics[d.topic_id]
                variant = topic.variant(d.variant_id)
                run.rules.append(f"{topic.id}/{variant.id}")
                named = refs(variant.when) | (refs(variant.policy.when) if variant.policy else set())
                if variant.kind == "default":  # a deny: the approval pathway's unmet criteria decided it
                    named |= refs(topic.variant(topic.approval_pathway).when)
                run.rules += [f"{topic.id}/{c}" for c in sorted(named)]
        run.rules = list(dict.fromkeys(run.rules))
        runs.append(run)
    return PolicyTestReport(policy=policy_id, cases=runs, rules=_rules_of(kb, policy_id))
