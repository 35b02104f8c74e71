"""The knowledge base: guideline corpus + criteria sets + vector and lexical indexes.

Built from the built-in guidelines (package data) and the user's own documents in
``<data_dir>/guidelines``. The vector index is synced automatically on first use.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import date
from functools import cached_property
from pathlib import Path

from agent.cases.determination import GuidelineCitation
from agent.cases.model import Case
from agent.criteria.model import Cite, CriteriaSet, Policy, load_criteria_set, load_policies, load_topics
from agent.criteria.selection import PlanMap, Selection, load_plan_map, select_policy
from agent.errors import CriteriaFileError
from agent.knowledge.documents import Corpus, builtin_guidelines_dir, corpus_for
from agent.knowledge.embeddings import Embedder, get_embedder
from agent.knowledge.retrieval import Filters, Hit, HybridRetriever
from agent.knowledge.vectorstore import VectorStore
from agent.settings import Settings, get_settings


class KnowledgeBase:
    """One process's view of the guidelines; cheap to create, heavy parts load lazily."""

    def __init__(self, settings: Settings | None = None, *, embedder: Embedder | None = None) -> None:
        self.settings = settings or get_settings()
        self._embedder = embedder
        self._synced = False

    @property
    def directories(self) -> list[Path]:
        return [builtin_guidelines_dir(), self.settings.guidelines_dir]

    @property
    def corpus(self) -> Corpus:
        """The corpus, re-checked for changed files at most once a second (not on every lookup)."""
        now = time.monotonic()
        cached = self.__dict__.get("_corpus")
        if cached is None or now - cached[0] > 1.0:
            cached = (now, corpus_for(self.directories))
            self.__dict__["_corpus"] = cached
        return cached[1]

    @property
    def version(self) -> str:
        return self.corpus.version

    def _policies(self) -> dict[str, Policy]:
        found: dict[str, Policy] = {}
        for directory in self.directories:
            if directory.is_dir():
                found.update(load_policies(directory))
        return found

    def policies(self) -> list[str]:
        return sorted(self._policies())

    def policy(self, policy_id: str) -> Policy:
        """A criteria set's header with all its versions (``CriteriaFileError`` if unknown)."""
        found = self._policies()
        if policy_id not in found:
            raise CriteriaFileError(self.directories[0], "policy", f"unknown criteria set {policy_id!r}; known: {sorted(found)}")
        return found[policy_id]

    def policy_documents(self, policy_id: str) -> set[str]:
        """The guideline documents any version of a criteria set draws on."""
        policy = self.policy(policy_id)
        topics = {}
        for directory in self.directories:
            if directory.is_dir():
                topics.update(load_topics(directory))
        names = set(policy.topics) | {t for v in policy.versions for t in (v.topics or [])}
        return {topics[n].document for n in names if n in topics}

    def plan_map(self) -> PlanMap:
        return load_plan_map([d for d in self.directories if d.is_dir()])

    def select(self, case: Case, explicit: str | None = None) -> Selection:
        """The criteria set for a case (explicit, plan, line of business, default) and the date that picks its version."""
        return select_policy(case.request, self.plan_map(), default=self.settings.policy, explicit=explicit)

    def criteria(self, policy_id: str | None = None, on: date | None = None, *, version: str | None = None) -> CriteriaSet:
        """A criteria set: the version named, or the one in force on ``on`` (default today)."""
        pid = policy_id or self.settings.policy
        chosen = version or self.policy(pid).version_on(on or date.today()).version
        return self._criteria_cache(pid, chosen)

    def _criteria_cache(self, policy_id: str, version: str) -> CriteriaSet:
        cache: dict[tuple[str, str], CriteriaSet] = self.__dict__.setdefault("_criteria", {})
        if (policy_id, version) not in cache:
            criteria = load_criteria_set([d for d in self.directories if d.is_dir()], policy_id, version=version)
            self._check_cites(criteria)
            cache[(policy_id, version)] = criteria
        return cache[(policy_id, version)]

    def _check_cites(self, criteria: CriteriaSet) -> None:
        for topic in criteria.topics:
            cites = [(f"criteria.{c.id}", c.cite) for c in topic.criteria if c.cite]
            cites += [(f"variants.{v.id}", v.cite) for v in topic.variants]
            for field, cite in cites:
                if cite is not None and self.resolve(cite, topic.document) is None:
                    raise CriteriaFileError(
                        topic.source or f"{topic.document}.criteria.yaml",
                        f"{topic.id}.{field}.cite",
                        f"quote not found verbatim in document {cite.document or topic.document!r}: {cite.quote[:60]!r}",
                    )

    def resolve(self, cite: Cite, default_document: str) -> GuidelineCitation | None:
        """The chunk citation for a criteria-file quote, or None if the quote is not in the corpus."""
        document = cite.document or default_document
        chunk = self.corpus.find_quote(cite.quote, document)
        if chunk is None:
            return None
        return GuidelineCitation(chunk_id=chunk.id, quote=cite.quote, document_title=chunk.document_title, section=chunk.section)

    def citer(self) -> Callable[[Cite, str], GuidelineCitation | None]:
        return self.resolve

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.settings.embedder)
        return self._embedder

    @cached_property
    def vectors(self) -> VectorStore:
        return VectorStore(
            self.embedder,
            chroma_url=self.settings.chroma_url,
            path=self.settings.chroma_dir,
            collection=self.settings.collection,
        )

    def sync(self, progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:
        """Embed new or changed chunks and drop stale ones; (added, deleted)."""
        self.__dict__.pop("_corpus", None)  # an explicit sync always re-reads the guideline folders
        result = self.vectors.sync(self.corpus.chunks, progress)
        self._synced = True
        return result

    @property
    def retriever(self) -> HybridRetriever:
        corpus = self.corpus
        cached = self.__dict__.get("_retriever")
        if cached is None or cached.corpus is not corpus:
            if not self._synced:
                self.sync()
            cached = HybridRetriever(corpus, self.vectors)
            self.__dict__["_retriever"] = cached
        return cached

    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        return self.retriever.search(query, k or self.settings.retrieval_k, filters or Filters())

    def search_many(self, queries: Sequence[tuple[str, Filters]], k: int | None = None) -> list[list[Hit]]:
        """Several searches at once (one embedding batch): the per-code queries of one case."""
        return self.retriever.search_many(queries, k or self.settings.retrieval_k)
