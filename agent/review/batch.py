"""Review many cases with bounded concurrency; resumable; a summary of paths, tokens and cost.

Cases run on a pool of ``concurrency`` worker threads around the blocking ``Reviewer.review`` (the
LLM call is I/O; extraction and retrieval are serialized inside the reviewer). Each result is
written to ``<out>/<case id>.json`` atomically by the worker that produced it, as soon as it is
done, so an interrupted batch loses at most the cases in flight and a re-run skips every finished
case. Per-request timeouts and retries with backoff on 429 / 5xx (honouring ``Retry-After``) are
the OpenAI client's own (``UMREVIEW_OPENAI_TIMEOUT``, ``UMREVIEW_OPENAI_MAX_RETRIES``).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from agent.cases.determination import Determination, TokenUsage
from agent.cases.model import Case
from agent.settings import ModelPrice, price_for

log = logging.getLogger(__name__)


class BatchSummary(BaseModel):
    cases: int
    reviewed: int
    resumed: int
    accepted: int = 0
    repaired: int = 0
    fallbacks: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    requests: int = 0
    cache_hits: int = 0
    cost_usd: float | None = None
    unpriced_models: list[str] = Field(default_factory=list)
    wall_seconds: float = 0.0
    concurrency: int = 1

    def line(self) -> str:
        cost = f"${self.cost_usd:.4f}" if self.cost_usd is not None else "cost unknown"
        if self.unpriced_models:
            cost += f" (no price for {', '.join(self.unpriced_models)}; set UMREVIEW_PRICES)"
        return (
            f"{self.cases} case(s): {self.reviewed} reviewed, {self.resumed} resumed from earlier runs; "
            f"{self.accepted} accepted, {self.repaired} repaired, {self.fallbacks} fallback(s); "
            f"{self.requests} LLM request(s), {self.cache_hits} cache hit(s), "
            f"{self.input_tokens} input + {self.output_tokens} output tokens, {cost}; "
            f"{self.wall_seconds:.1f} s at concurrency {self.concurrency}"
        )


@dataclass
class BatchResult:
    determinations: list[Determination]  # in input order, finished ones from earlier runs included
    summary: BatchSummary


def result_path(out_dir: Path, case_id: str) -> Path:
    return out_dir / f"{case_id}.json"


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)  # atomic: an interrupted batch never leaves half a file
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_result(out_dir: Path, det: Determination, *, markdown: bool = False) -> None:
    if markdown:
        from agent.review.render import to_markdown

        _atomic_write(out_dir / f"{det.case_id}.md", to_markdown(det))
    _atomic_write(result_path(out_dir, det.case_id), det.model_dump_json(indent=2))


def load_finished(out_dir: Path, cases: Sequence[Case]) -> dict[str, Determination]:
    """Results already in ``out_dir``; an unreadable file counts as not done."""
    done = {}
    for case in cases:
        path = result_path(out_dir, case.id)
        if not path.exists():
            continue
        try:
            done[case.id] = Determination.model_validate_json(path.read_bytes())
        except (OSError, ValidationError):
            log.warning("%s is unreadable; the case will be reviewed again", path.name)
    return done


def summarize(
    fresh: Sequence[Determination],
    *,
    cases: int,
    resumed: int,
    seconds: float,
    concurrency: int,
    prices: Mapping[str, ModelPrice],
    default_model: str | None = None,
) -> BatchSummary:
    total = TokenUsage()
    cost, unpriced = 0.0, set()
    for det in fresh:
        usage = det.provenance.usage
        if usage is None:
            continue
        total = total + usage
        model = det.provenance.model if det.provenance.backend_kind == "llm" else default_model
        price = price_for(model, prices)
        if price is None and usage.requests:
            unpriced.add(model or "unknown model")
        elif price is not None:
            cost += (usage.input_tokens * price.input + usage.output_tokens * price.output) / 1_000_000
    paths = [d.path for d in fresh]
    return BatchSummary(
        cases=cases,
        reviewed=len(fresh),
        resumed=resumed,
        accepted=paths.count("accepted"),
        repaired=paths.count("repaired"),
        fallbacks=paths.count("fallback"),
        input_tokens=total.input_tokens,
        output_tokens=total.output_tokens,
        requests=total.requests,
        cache_hits=total.cache_hits,
        cost_usd=None if unpriced and not cost else round(cost, 6),
        unpriced_models=sorted(unpriced),
        wall_seconds=round(seconds, 3),
        concurrency=concurrency,
    )


def run_batch(
    cases: Sequence[Case],
    review: Callable[[Case], Determination],
    *,
    out_dir: Path | None = None,
    concurrency: int = 1,
    force: bool = False,
    markdown: bool = False,
    prices: Mapping[str, ModelPrice] | None = None,
    default_model: str | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_done: Callable[[Determination], None] | None = None,
) -> BatchResult:
    """Review ``cases`` (skipping those finished in ``out_dir`` unless ``force``).

    ``on_start(resumed, todo)`` is called once the finished cases are known; ``on_done(det)`` after
    each case. An exception from a worker (KeyboardInterrupt included) cancels the cases not yet
    started, lets the cases in flight finish and be written, and propagates.
    """
    started = time.perf_counter()
    finished: dict[str, Determination] = {}
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        if not force:
            finished = load_finished(out_dir, cases)
    todo = [c for c in cases if c.id not in finished]
    if on_start:
        on_start(len(finished), len(todo))

    def work(case: Case) -> Determination:
        det = review(case)
        if out_dir is not None:
            write_result(out_dir, det, markdown=markdown)
        return det

    fresh: list[Determination] = []
    pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="umreview-review")
    try:
        pending: set[Future[Determination]] = {pool.submit(work, c) for c in todo}
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                det = future.result()  # re-raises KeyboardInterrupt or a bug from a worker
                fresh.append(det)
                if on_done:
                    on_done(det)
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)  # cases in flight finish and are written; the rest wait for a re-run
        raise
    pool.shutdown()
    by_id = {**finished, **{d.case_id: d for d in fresh}}
    ordered = [by_id[c.id] for c in cases if c.id in by_id]
    summary = summarize(
        fresh,
        cases=len(cases),
        resumed=len(finished),
        seconds=time.perf_counter() - started,
        concurrency=concurrency,
        prices=prices or {},
        default_model=default_model,
    )
    return BatchResult(determinations=ordered, summary=summary)
