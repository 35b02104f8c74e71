"""Offline review throughput and latency on evals/cases (prints figures; no assertions).

Run: python benches/bench_review.py [--retrieval]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from agent.cases.load import load_cases
from agent.knowledge.base import KnowledgeBase
from agent.review.reviewer import Reviewer
from agent.settings import Settings

ROOT = Path(__file__).parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--retrieval", action="store_true", help="include hybrid retrieval (loads MiniLM)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    cases = load_cases([ROOT / "evals" / "cases"]).cases
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        reviewer = Reviewer(KnowledgeBase(Settings(data_dir=Path(tmp))), retrieve=args.retrieval)
        reviewer.review(cases[0])
        warm = time.perf_counter() - started
        latencies = []
        for _ in range(args.rounds):
            for case in cases:
                t = time.perf_counter()
                reviewer.review(case)
                latencies.append((time.perf_counter() - t) * 1000)
    latencies.sort()
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"cases: {len(cases)} x {args.rounds} rounds, retrieval: {'on' if args.retrieval else 'off'}")
    print(f"start-up incl. first review: {warm:.2f} s")
    print(f"latency per case: p50 {statistics.median(latencies):.1f} ms, p95 {p95:.1f} ms, max {latencies[-1]:.1f} ms")
    print(f"throughput: {1000 * len(latencies) / sum(latencies):.1f} cases/s on one thread")


if __name__ == "__main__":
    main()
