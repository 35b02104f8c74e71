"""Batch throughput of the openai backend against the local fake server with injected latency.

100 cases (evals/cases, cycled) at concurrency 16, each LLM reply delayed 1 s. Prints wall time
against the ideal (cases x calls per case x latency / concurrency) and their ratio; the goal is
at most 1.3. The whole pipeline runs per case (rules extraction, engine, validator; retrieval too
with --retrieval, which loads MiniLM), through the real langchain-openai client over HTTP.

Run: python benches/bench_batch.py [--cases 100] [--concurrency 16] [--latency 1.0] [--retrieval]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # the fake server and scripted replies live with the tests

from fake_openai import FakeOpenAI, Reply  # noqa: E402
from llm_drafts import refer_all  # noqa: E402

from agent.backends.openai import OpenAIBackend  # noqa: E402
from agent.cases.load import load_cases  # noqa: E402
from agent.cases.model import Case  # noqa: E402
from agent.knowledge.base import KnowledgeBase  # noqa: E402
from agent.review.batch import run_batch  # noqa: E402
from agent.review.reviewer import Reviewer  # noqa: E402
from agent.settings import ModelPrice, Settings  # noqa: E402


def cases(n: int) -> list[Case]:
    base = load_cases([ROOT / "evals" / "cases"]).cases
    return [base[i % len(base)].model_copy(update={"id": f"{base[i % len(base)].id}-{i:03d}"}) for i in range(n)]


def serve(latency: float, urls: multiprocessing.Queue, stop: multiprocessing.Event) -> None:  # type: ignore[type-arg]
    """The fake endpoint in its own process, as a real one would be: it does not compete for our GIL."""
    fake = FakeOpenAI(latency=latency).start()
    fake.responder = lambda body: Reply(arguments=refer_all(body))
    urls.put(fake.url)
    stop.wait()
    fake.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency", type=float, default=1.0, help="seconds added to every reply")
    parser.add_argument("--retrieval", action="store_true", help="include hybrid retrieval (loads MiniLM)")
    args = parser.parse_args()
    batch = cases(args.cases)
    urls: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    stop = multiprocessing.Event()
    server = multiprocessing.Process(target=serve, args=(args.latency, urls, stop), daemon=True)
    server.start()
    url = urls.get(timeout=30)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                data_dir=Path(tmp),
                openai_base_url=url,
                openai_model="bench-model",
                openai_timeout=30,
                llm_cache=False,
                prices={"bench-model": ModelPrice(input=0.15, output=0.60)},
            )
            reviewer = Reviewer(KnowledgeBase(settings), backend=OpenAIBackend(settings), retrieve=args.retrieval)
            reviewer.request_for(batch[0])  # warm up: knowledge base, criteria, NLP rules (not timed)
            started = time.perf_counter()
            result = run_batch(
                batch,
                reviewer.review,
                out_dir=Path(tmp) / "out",
                concurrency=args.concurrency,
                prices=settings.prices,
                default_model="bench-model",
            )
            wall = time.perf_counter() - started
    finally:
        stop.set()
        server.join(timeout=5)
    s = result.summary
    calls = s.requests / max(1, s.reviewed)
    ideal = s.reviewed * calls * args.latency / args.concurrency
    print(
        f"{s.reviewed} cases, {calls:g} LLM call(s) per case, {args.latency:g} s latency, concurrency {args.concurrency}, "
        f"retrieval {'on' if args.retrieval else 'off'}"
    )
    print(f"wall {wall:.2f} s, ideal {ideal:.2f} s, ratio {wall / ideal:.2f} (goal <= 1.3)")
    print(s.line())


if __name__ == "__main__":
    main()
