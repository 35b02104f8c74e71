"""``umreview policy lint``: what a criteria set says that the engine would never use, or cannot use.

Checked for every version of the set (a version that replaces criteria is a different rule book):

* schema: the files load (strict models, done by the loader) and every version resolves;
* citations: every criterion and variant quote is verbatim in its document (``quote_ok``); a drafted
  set (``require_cites``) must cite a sentence for every rule;
* unreachable variants: a second ``default`` variant, a red-flag variant whose flags the topic does
  not list (``bears_on`` never lets them count), a variant whose ``all`` holds a condition and its
  ``not``, a variant that rates no study;
* conditions never used: a required or supporting criterion no variant, gate or other criterion
  refers to, and a departure nothing shows;
* codes without a rule: a code of the set's regions whose study no variant of the region rates
  (always referred), unless the code table refers it on purpose (``refer``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel

from agent.criteria.conditions import refs
from agent.criteria.model import CodeTable, Condition, Policy, Topic

Severity = Literal["error", "warning"]
QuoteCheck = Callable[[str, str], bool]  # (quote, document) -> verbatim in that document?


class PolicyProblem(BaseModel):
    severity: Severity
    kind: str
    where: str
    message: str


def _flags(cond: Condition | None) -> set[str]:
    if cond is None:
        return set()
    found = {cond.red_flag} if cond.red_flag and cond.red_flag != "any" else set()
    for sub in [*(cond.all_ or []), *(cond.any_ or []), *(cond.same_sentence or []), cond.not_]:
        found |= _flags(sub)
    return found


def _contradictory(cond: Condition | None) -> bool:
    if cond is None:
        return False
    parts = cond.all_ or []
    dumped = [p.model_dump(exclude_none=True, by_alias=True) for p in parts]
    negated = [p.not_.model_dump(exclude_none=True, by_alias=True) for p in parts if p.not_ is not None]
    if any(n in dumped for n in negated):
        return True
    return any(_contradictory(p) for p in [*(cond.all_ or []), *(cond.any_ or [])])


def _variants(topic: Topic, where: str) -> list[PolicyProblem]:
    problems = []
    defaults = [v.id for v in topic.variants if v.kind == "default"]
    for extra in defaults[1:]:
        problems.append(
            PolicyProblem(
                severity="warning",
                kind="unreachable_variant",
                where=f"{where}.{extra}",
                message=f"a second default variant is never used (the first is {defaults[0]!r})",
            )
        )
    for v in topic.variants:
        here = f"{where}.{v.id}"
        unlisted = sorted(_flags(v.when) - set(topic.red_flags))
        if v.kind == "red_flag" and unlisted and _flags(v.when) <= set(unlisted):
            problems.append(
                PolicyProblem(
                    severity="warning",
                    kind="unreachable_variant",
                    where=here,
                    message=f"tests red flag(s) {unlisted} that the topic's red_flags do not list, so it never holds",
                )
            )
        if _contradictory(v.when):
            problems.append(
                PolicyProblem(
                    severity="warning",
                    kind="unreachable_variant",
                    where=here,
                    message="its 'all' holds a condition and its 'not', so it never holds",
                )
            )
        if not v.ratings:
            problems.append(PolicyProblem(severity="warning", kind="unreachable_variant", where=here, message="rates no study"))
    return problems


def _unused(topic: Topic, where: str) -> list[PolicyProblem]:
    conditions: list[Condition | None] = [v.when for v in topic.variants] + [v.policy.when for v in topic.variants if v.policy]
    conditions += [topic.only_when] + [c.when for c in topic.criteria]
    used = set().union(*(refs(c) for c in conditions))
    problems = [
        PolicyProblem(
            severity="warning",
            kind="unused_condition",
            where=f"{where}.criteria.{c.id}",
            message=f"{c.role} criterion that no variant refers to: it never decides a code",
        )
        for c in topic.criteria
        if c.role == "required" and c.id not in used
    ]
    shown = {d for v in topic.variants for d in v.departures} | {v.policy.departure for v in topic.variants if v.policy}
    shown |= {c.departure for c in topic.criteria if c.departure}
    problems += [
        PolicyProblem(
            severity="warning",
            kind="unused_condition",
            where=f"{where}.departures.{d.id}",
            message="departure that no variant, gate or criterion shows",
        )
        for d in topic.departures
        if d.id not in shown
    ]
    return problems


def _cites(topic: Topic, where: str, quote_ok: QuoteCheck, require: bool) -> list[PolicyProblem]:
    problems = []
    items = [(f"criteria.{c.id}", c.cite) for c in topic.criteria] + [(f"variants.{v.id}", v.cite) for v in topic.variants]
    for name, cite in items:
        if cite is None:
            if require:
                problems.append(
                    PolicyProblem(
                        severity="error",
                        kind="uncited_rule",
                        where=f"{where}.{name}",
                        message="a drafted rule must cite the policy sentence it comes from",
                    )
                )
            continue
        document = cite.document or topic.document
        if not quote_ok(cite.quote, document):
            problems.append(
                PolicyProblem(
                    severity="error",
                    kind="citation_not_verbatim",
                    where=f"{where}.{name}",
                    message=f"quote not found verbatim in {document!r}: {cite.quote[:70]!r}",
                )
            )
    return problems


def _codes(topics: list[Topic], codes: CodeTable, where: str) -> list[PolicyProblem]:
    problems = []
    regions = {r for t in topics for r in t.regions}
    for code, info in sorted(codes.codes.items()):
        if info.region not in regions or info.refer is not None:
            continue
        rated = any(info.procedure in v.ratings for t in topics if info.region in t.regions for v in t.variants)
        if not rated:
            problems.append(
                PolicyProblem(
                    severity="warning",
                    kind="code_without_rule",
                    where=f"{where}.codes.{code}",
                    message=f"no variant of the {info.region.value} region rates {info.procedure}: {code} is always referred",
                )
            )
    return problems


def lint_policy(
    policy: Policy, topics: dict[str, Topic], codes: CodeTable, quote_ok: QuoteCheck, *, require_cites: bool = False
) -> list[PolicyProblem]:
    """Every problem of every version of ``policy`` (schema problems surface earlier, as CriteriaFileError)."""
    problems: list[PolicyProblem] = []
    seen: set[tuple[str, str]] = set()
    for version in policy.versions:
        vwhere = f"{policy.id}@{version.version}"
        names = version.topics or policy.topics
        missing = [n for n in names if n not in topics]
        if missing:
            problems.append(PolicyProblem(severity="error", kind="schema", where=vwhere, message=f"unknown topic(s) {missing}"))
            continue
        replaced = {c.id: c for c in version.criteria}
        unknown = set(replaced) - {c.id for n in names for c in topics[n].criteria}
        if unknown:
            problems.append(
                PolicyProblem(
                    severity="error",
                    kind="schema",
                    where=vwhere,
                    message=f"version criteria {sorted(unknown)} replace no criterion of its topics",
                )
            )
        resolved = [topics[n].model_copy(update={"criteria": [replaced.get(c.id, c) for c in topics[n].criteria]}) for n in names]
        for topic in resolved:
            key = (topic.id, repr([c.model_dump() for c in topic.criteria]))
            if key in seen:
                continue  # the same rule book under another version: reported once
            seen.add(key)
            where = f"{vwhere}/{topic.id}"
            problems += _cites(topic, where, quote_ok, require_cites)
            problems += _variants(topic, where)
            problems += _unused(topic, where)
        problems += _codes(resolved, codes, vwhere)
    return list({(p.kind, p.where, p.message): p for p in problems}.values())
