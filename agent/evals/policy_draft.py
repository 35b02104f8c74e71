"""``umreview policy draft`` and ``policy accept``: a criteria set drafted by a language model from a plan's
policy document, kept as a *proposal* until a person accepts it.

The model (the OpenAI-compatible connection of ``agent.backends.openai``) fills one function,
``PolicyDraft``: the criteria set (``Policy``) and its criteria file (``CriteriaFile``). Every criterion
and variant must cite the policy sentence it comes from, and every quote must occur verbatim in the
policy text; a draft that fails the schema or cites text the policy does not hold is sent back with
the problems (``UMREVIEW_REPAIR_ROUNDS`` times), then refused: nothing is written. A draft that passes
is written to ``<data dir>/guidelines/proposed/<set id>/`` (the policy text as a guideline document,
the criteria file, the set, and ``proposal.json`` with the lint and test results), which the
knowledge base does not read. ``accept`` lints it again (errors refuse it) and moves it into
``<data dir>/guidelines/``, where it becomes an active criteria set.
"""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError

from agent.backends.openai import Connection
from agent.cases.attachments import read_file
from agent.criteria.lint import PolicyProblem
from agent.criteria.model import CriteriaFile, Policy
from agent.errors import BackendError, CaseFileError, NotFoundError, UmreviewError
from agent.evals.policy import ScopedKnowledgeBase, lint_set, proposal_dir
from agent.settings import Settings

POLICY_SUFFIXES = (".pdf", ".md", ".txt")
DRAFT_PROMPT_VERSION = "policy-draft-1"
PROPOSED_ACCEPTED = "accepted"  # <data dir>/guidelines/accepted/<set id>.json: who accepted which proposal


class DraftRefused(UmreviewError):
    """The model's draft still failed the schema or its citations after the repair rounds (exit code 1)."""

    exit_code = 1

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("draft refused, nothing written: " + "; ".join(problems[:8]))


class PolicyDraft(BaseModel):
    """A criteria set drafted from a policy document."""

    policy: dict[str, Any] = Field(
        description="the criteria set: id, title, version, effective (YYYY-MM-DD), description, topics (topic ids), "
        "rating_decisions ({UA, MBA, UNA} -> approve | refer | deny)"
    )
    criteria: dict[str, Any] = Field(
        description="the criteria file: {topics: [...]}; every criterion and every variant has cite: {quote: ...}, "
        "a sentence copied verbatim from the policy"
    )


class Proposal(BaseModel):
    policy_id: str
    directory: str
    problems: list[PolicyProblem]
    attempts: int
    model: str


def read_policy_text(path: Path) -> str:
    """The text of a policy document (.md and .txt as written, .pdf from its text layer or OCR)."""
    if path.suffix.lower() not in POLICY_SUFFIXES:
        raise CaseFileError(path, "", f"a policy document must be one of {', '.join(POLICY_SUFFIXES)}")
    if not path.is_file():
        raise CaseFileError(path, "", "file not found")
    if path.suffix.lower() == ".pdf":
        return read_file(path).text
    text = path.read_text(encoding="utf-8")
    return re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.DOTALL)  # a Markdown file's own front matter


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "policy"


SYSTEM = """You turn a health plan's medical policy for spine imaging into a umreview criteria set.
Call the function {tool} once. `policy` follows this JSON schema: {policy_schema}
`criteria` follows this JSON schema: {criteria_schema}
Rules: every criterion and every variant carries cite.quote, one sentence (or a part of one) copied
character for character from the policy text below; never paraphrase a quote. Use only the red-flag ids,
fact names and condition keys of the schema. Write nothing the policy does not say."""


def _messages(text: str, feedback: list[str]) -> list[tuple[str, str]]:
    schema = {
        "policy_schema": json.dumps(Policy.model_json_schema()),
        "criteria_schema": json.dumps(CriteriaFile.model_json_schema()),
    }
    messages = [("system", SYSTEM.format(tool=PolicyDraft.__name__, **schema)), ("user", f"POLICY TEXT:\n{text}")]
    if feedback:
        messages.append(("user", "Your previous draft was refused. Fix these problems:\n- " + "\n- ".join(feedback)))
    return messages


def _cites(criteria: CriteriaFile) -> list[tuple[str, str | None]]:
    found: list[tuple[str, str | None]] = []
    for t in criteria.topics:
        found += [(f"{t.id}.criteria.{c.id}", c.cite.quote if c.cite else None) for c in t.criteria]
        found += [(f"{t.id}.variants.{v.id}", v.cite.quote) for v in t.variants]
    return found


def check_draft(draft: PolicyDraft, text: str, document: str, kb: ScopedKnowledgeBase) -> list[str]:
    """Problems that refuse a draft: schema, a rule without a citation, a citation not verbatim in the policy,
    an id that would replace an active set or topic."""
    try:
        policy = Policy.model_validate(draft.policy)
        criteria = CriteriaFile.model_validate({**draft.criteria, "document": document})
    except ValidationError as exc:
        return [f"schema: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:10]]
    problems = []
    for where, quote in _cites(criteria):
        if quote is None:
            problems.append(f"{where}: no cite; every rule cites the policy sentence it comes from")
        elif quote not in text:
            problems.append(f"{where}: citation not found verbatim in the policy: {quote[:80]!r}")
    if policy.id in kb.policies():
        problems.append(f"policy.id: {policy.id!r} is an active criteria set; choose a new id")
    active_topics = {t.id for p in kb.policies() for t in kb.criteria(p, version=kb.policy(p).versions[-1].version).topics}
    problems += [f"criteria.topics: topic id {t.id!r} is already active" for t in criteria.topics if t.id in active_topics]
    missing = [t for t in policy.topics if t not in {x.id for x in criteria.topics}]
    problems += [f"policy.topics: {missing} not in the criteria file"] if missing else []
    return problems


def _front_matter(document: str, source: Path, policy: Policy) -> str:
    year = (policy.versions[-1].effective_from).year
    meta = {
        "id": document,
        "title": policy.title,
        "publisher": "the plan (drafted into criteria by umreview policy draft)",
        "source": source.name,
        "version": policy.versions[-1].version,
        "year": year,
        "licence": "the plan's own policy document, supplied by the user",
    }
    return "---\n" + yaml.safe_dump(meta, sort_keys=False, allow_unicode=True) + "---\n\n"


def draft_policy(path: Path, settings: Settings, *, connection: Connection | None = None) -> Proposal:
    """Draft, check (bounded repair), write the proposal and lint it. Raises ``DraftRefused``."""
    text = read_policy_text(path)
    document = _slug(path.stem)
    connection = connection or Connection.from_settings(settings)
    runnable = connection.chat_model().with_structured_output(PolicyDraft, method="function_calling", include_raw=True)
    kb = ScopedKnowledgeBase(settings)
    feedback: list[str] = []
    attempts = 0
    draft: PolicyDraft | None = None
    for attempt in range(1, settings.repair_rounds + 2):
        attempts = attempt
        try:
            out = runnable.invoke(_messages(text, feedback))
        except Exception as exc:  # transport, status, timeout: the user needs the reason, not a trace
            raise BackendError(f"the model at {connection.base_url} failed ({type(exc).__name__})") from exc
        parsed = out.get("parsed")
        if out.get("parsing_error") is not None or not isinstance(parsed, PolicyDraft):
            feedback = [f"the reply was not a valid {PolicyDraft.__name__} function call"]
            continue
        feedback = check_draft(parsed, text, document, kb)
        if not feedback:
            draft = parsed
            break
    if draft is None:
        raise DraftRefused(feedback)
    policy = Policy.model_validate(draft.policy)
    criteria = {**draft.criteria, "document": document}
    target = proposal_dir(settings, policy.id)
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    (target / f"{document}.md").write_text(_front_matter(document, path, policy) + text, encoding="utf-8")
    (target / f"{document}.criteria.yaml").write_text(
        yaml.safe_dump(criteria, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    (target / f"{policy.id}.policy.yaml").write_text(
        yaml.safe_dump(draft.policy, sort_keys=False, allow_unicode=True), encoding="utf-8"
    )
    problems = lint_set(ScopedKnowledgeBase(settings, extra=[target]), policy.id, require_cites=True)
    record = {
        "source": path.name,
        "model": connection.model,
        "prompt_version": DRAFT_PROMPT_VERSION,
        "attempts": attempts,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "lint": [p.model_dump() for p in problems],
        "status": "proposed",
    }
    (target / "proposal.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    return Proposal(policy_id=policy.id, directory=str(target), problems=problems, attempts=attempts, model=connection.model)


def accept_proposal(settings: Settings, policy_id: str, *, actor: str) -> list[Path]:
    """Lint a proposal again and make it active (moved into the user's guideline directory)."""
    source = proposal_dir(settings, policy_id)
    if not source.is_dir():
        raise NotFoundError(f"no proposed criteria set {policy_id!r} under {source.parent}; draft one with umreview policy draft")
    errors = [
        p for p in lint_set(ScopedKnowledgeBase(settings, extra=[source]), policy_id, require_cites=True) if p.severity == "error"
    ]
    if errors:
        raise CaseFileError(source, errors[0].where, f"{len(errors)} lint error(s), not accepted: {errors[0].message}")
    files = [p for p in sorted(source.iterdir()) if p.name != "proposal.json"]
    clashes = [settings.guidelines_dir / p.name for p in files if (settings.guidelines_dir / p.name).exists()]
    if clashes:
        raise CaseFileError(clashes[0], "", "a file of that name is already active; remove it or rename the proposal")
    record = json.loads((source / "proposal.json").read_text(encoding="utf-8"))
    record.update(status="accepted", accepted_by=actor, accepted_at=datetime.now(UTC).isoformat(timespec="seconds"))
    moved = []
    for p in files:
        moved.append(Path(shutil.move(str(p), settings.guidelines_dir / p.name)))
    accepted = settings.guidelines_dir / PROPOSED_ACCEPTED
    accepted.mkdir(exist_ok=True)
    (accepted / f"{policy_id}.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    shutil.rmtree(source)
    return moved
