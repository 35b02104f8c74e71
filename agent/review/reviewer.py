"""The review loop: extract -> engine -> retrieve -> draft -> validate -> repair or fall back.

``Reviewer.review`` never raises for a bad backend reply: a BackendError or a draft that still
violates the validator after the repair rounds is replaced by the rules engine's determination,
marked ``fallback`` with the reasons. Whatever the backend, unsafe decisions are corrected to the
validator's safe outcome before anything is returned. An LLM's own reading of the note (red flags,
conservative-care weeks) is compared with the rules extractor's: disagreements become findings, and
a red flag only the model reports can turn a deny into a refer, never anything into an approve.
"""

from __future__ import annotations

import logging
import threading

from agent.backends.base import Backend, DraftRequest
from agent.backends.offline import OfflineBackend
from agent.backends.registry import get_backend
from agent.cases.determination import (
    Determination,
    Fallback,
    ReportedFacts,
    Severity,
    TokenUsage,
    Violation,
    ViolationKind,
)
from agent.cases.model import Case, Decision
from agent.criteria.engine import Engine
from agent.criteria.model import CriteriaSet
from agent.errors import BackendError, NoCriteriaInForce
from agent.facts.extract import extract_facts
from agent.facts.model import ClinicalFacts
from agent.knowledge.base import KnowledgeBase
from agent.knowledge.retrieval import Filters, Hit
from agent.review.evidence import VerifiedReading, verify_reading
from agent.review.fact_check import refer_on_unconfirmed_flags
from agent.review.reading_view import build_reading
from agent.review.readings import disputed, merged_facts, reading_findings, refer_on_disputed, refer_on_model_decision
from agent.review.validator import Validator, apply_safe_outcome

log = logging.getLogger(__name__)


def retrieval_query(case: Case, code: str, label: str | None, facts: ClinicalFacts) -> str:
    """A query from structured facts only (no note text): code label, region, documented findings."""
    parts = [label or f"procedure {code}"]
    parts += [f.replace("_", " ") for f in facts.present_flags()]
    for name in ("radiculopathy", "candidacy", "progression"):
        if facts.fact(name).status == "present":
            parts.append(name)
    if facts.conservative_care.status == "present":
        parts.append("conservative care trial weeks")
    if facts.prior_surgery:
        parts.append("prior surgery post-operative")
    return " ".join(parts)


class Reviewer:
    """Reviews cases against one knowledge base and criteria set with one backend."""

    def __init__(
        self,
        kb: KnowledgeBase,
        *,
        backend: Backend | str | None = None,
        policy: str | None = None,
        retrieve: bool = True,
        version: str | None = None,
    ) -> None:
        self.kb = kb
        if backend is None or isinstance(backend, str):
            backend = get_backend(backend or kb.settings.backend, kb.settings)
        self.backend = backend
        # ``policy`` given: every case is judged by that set; None: each case's plan (or the default)
        # chooses it. Either way the version in force on the case's date is used (``for_case``).
        self.explicit_policy = policy
        self.criteria: CriteriaSet = kb.criteria(policy, version=version) if version else self._current(policy)
        self._siblings: dict[tuple[str, str], Reviewer] = {}
        self.engine = Engine(self.criteria, kb.resolve)
        self.validator = Validator(self.criteria, kb.corpus, self.engine)
        self.retrieve = retrieve
        self.repair_rounds = kb.settings.repair_rounds
        self._prepare_lock = threading.Lock()
        # Retrieval stays inside this criteria set: another set's guideline (a payer policy under
        # acr-default, or the reverse) is not the standard applied. Ingested user documents belong to
        # no set and are always searched.
        own = {t.document for t in self.criteria.topics}
        others = {d for p in kb.policies() if p != self.criteria.policy.id for d in kb.policy_documents(p)}
        self.foreign_documents = frozenset(others - own)

    def _current(self, policy: str | None) -> CriteriaSet:
        """Today's version of the set (the one a case without dates gets); the latest if none is in force."""
        try:
            return self.kb.criteria(policy)
        except NoCriteriaInForce:
            latest = self.kb.policy(policy or self.kb.settings.policy).versions[-1]
            return self.kb.criteria(policy, version=latest.version)

    def for_case(self, case: Case) -> Reviewer:
        """The reviewer of the criteria set and version that judge ``case`` (this one, or a sibling sharing
        the knowledge base and backend). Raises ``PlanNotMapped`` or ``NoCriteriaInForce``: a request is
        never judged by a default it did not choose."""
        selection = self.kb.select(case, explicit=self.explicit_policy)
        version = self.kb.policy(selection.policy).version_on(selection.on).version
        key = (selection.policy, version)
        if key == (self.criteria.policy.id, self.criteria.policy.version):
            return self
        with self._prepare_lock:
            if key not in self._siblings:
                self._siblings[key] = Reviewer(
                    self.kb, backend=self.backend, policy=selection.policy, retrieve=self.retrieve, version=version
                )
            return self._siblings[key]

    def filters(self, region: str | None = None) -> Filters:
        """Retrieval filters for this criteria set, optionally for one body region."""
        return Filters(region=region, exclude_documents=self.foreign_documents)

    def _hits(self, case: Case, facts: ClinicalFacts) -> dict[str, list[Hit]]:
        if not self.retrieve:
            return {}
        queries = []
        for code in case.request.codes:
            info = self.criteria.codes.codes.get(code)
            filters = self.filters(info.region.value if info else None)
            queries.append((retrieval_query(case, code, info.label if info else None, facts), filters))
        return dict(zip(case.request.codes, self.kb.search_many(queries), strict=True))

    def request_for(self, case: Case) -> DraftRequest:
        target = self.for_case(case)
        if target is not self:
            return target.request_for(case)
        facts = extract_facts(case)  # per case and lock-free: a long note never makes other requests wait
        if self.retrieve:
            with self._prepare_lock:  # the shared, lazily built retriever is built once, by one thread
                self.kb.retriever  # noqa: B018  # (the property builds it)
        return DraftRequest(
            case=case,
            facts=facts,
            engine=self.engine.decide(case, facts),
            hits=self._hits(case, facts),
            criteria_set=self.criteria.policy.id,
            criteria_version=self.criteria.policy.version,
            kb_version=self.kb.version,
        )

    def review(self, case: Case) -> Determination:
        """The final determination for ``case``; thread-safe (batches call it from worker threads).
        The criteria version in force on the request's date decides it; a case with an unreadable
        document is pended (every code referred) whatever the drafts say."""
        target = self.for_case(case)
        if target is not self:
            return target.review(case)
        return pend_unreadable(self._review(case), case)

    def _review(self, case: Case) -> Determination:
        request = self.request_for(case)
        draft, violations, reasons, attempts = None, [], [], 0
        usage: TokenUsage | None = None
        reported: ReportedFacts | None = None
        kept = VerifiedReading()  # the verified reading of ``reported``: checked once per reading
        feedback: list[Violation] | None = None
        drafted: dict[str, Decision] = {}  # the model's latest decision per code, whether or not it validated
        for attempts in range(1, self.repair_rounds + 2):
            try:
                candidate = self.backend.draft(request, feedback)
            except BackendError as exc:
                usage = _plus(usage, getattr(exc, "usage", None))
                reasons.append(f"attempt {attempts}: backend error: {exc}")
                break
            usage = _plus(usage, candidate.provenance.usage)
            verified = verify_reading(case, candidate.llm_facts, set(request.facts.present_flags()))
            if candidate.llm_facts is not None:
                reported, kept = candidate.llm_facts, verified
            merged = merged_facts(request.facts, verified)
            violations = self.validator.validate(
                candidate, case, request.facts, merged=merged, disputed=disputed(candidate.llm_facts, verified)
            )
            violations += reading_findings(request.facts, candidate.llm_facts, verified)
            steered = any(v.kind == ViolationKind.instruction_obeyed for v in violations)  # a steered draft is no reading
            if candidate.provenance.backend_kind == "llm" and not steered:
                drafted.update({code: Decision(d) for code, d in candidate.decisions.items() if code in case.request.codes})
            blocking = [v for v in violations if v.severity != Severity.info]
            if not blocking:
                draft = candidate
                break
            reasons.append(f"attempt {attempts}: " + "; ".join(sorted({v.kind.value for v in blocking})))
            feedback = blocking
        if draft is None:
            log.info("case %s: falling back to the rules engine after %d attempt(s)", case.id, attempts)
            # The fallback keeps the model's verified facts: evidence that checked out is not discarded
            # because the draft around it failed (a bad citation, say).
            merged = merged_facts(request.facts, kept)
            fallback_request = request.model_copy(update={"facts": merged, "engine": self.engine.decide(case, merged)})
            offline = OfflineBackend().draft(fallback_request)
            checked = self.validator.validate(offline, case, request.facts, merged=merged)
            checked += reading_findings(request.facts, reported, kept)
            final = apply_safe_outcome(offline, checked).model_copy(
                update={"fallback": Fallback(reasons=reasons, attempts=attempts), "llm_facts": reported}
            )
        else:
            final = apply_safe_outcome(draft, violations)
        provenance = final.provenance.model_copy(update={"attempts": attempts, "usage": usage})
        final = final.model_copy(update={"provenance": provenance})
        final = refer_on_unconfirmed_flags(final, reported, request.facts, self.criteria)
        final = refer_on_model_decision(final, drafted)
        final = refer_on_disputed(final, case, request.facts, reported, kept, self.engine)
        # The reading shown with the determination is the rules reader's (the model's verified facts are
        # in the findings and ``llm_facts``).
        regions = [d.region for d in final.determinations if d.region]
        return final.model_copy(update={"reading": build_reading(case, request.facts, regions)})


def pend_unreadable(det: Determination, case: Case) -> Determination:
    """Every code referred (pended) when a submitted document could not be read: the missing part may hold
    what decides, so an unreadable packet gets a request for a legible copy, never a decision on the rest."""
    unreadable = [a.unreadable for a in case.request.attachments if a.unreadable]
    if not unreadable:
        return det
    from agent.cases.model import Decision  # here, not at the top: keeps this module's imports as the loop's own

    why = (
        "Documentation unreadable: "
        + "; ".join(unreadable[:5])
        + ". Pended for a physician reviewer until a legible copy is received."
    )
    codes = [
        d.model_copy(
            update={
                "decision": Decision.refer,
                "rationale": why,
                "missing_documentation": [*d.missing_documentation, "a legible copy of the unreadable document(s)"],
            }
        )
        for d in det.determinations
    ]
    return det.model_copy(update={"determinations": codes, "summary": why})


def _plus(total: TokenUsage | None, more: TokenUsage | None) -> TokenUsage | None:
    if more is None:
        return total
    return more if total is None else total + more
