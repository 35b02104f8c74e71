"""Warm review time of one long packet (~10,000 words): the reader's cost grows with the documentation.

The packet is every note of evals/holdout-6 pasted together (multi-document packets, many sections),
repeated until it reaches the target length. Prints figures; no assertions.
Run: python benches/bench_packet.py [--words 10000] [--rounds 5] [--retrieval]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from agent.cases.load import load_cases
from agent.cases.model import Case
from agent.facts.note import read_note
from agent.knowledge.base import KnowledgeBase
from agent.review.reviewer import Reviewer
from agent.settings import Settings

ROOT = Path(__file__).parent.parent


def packet(words: int) -> Case:
    notes = [c.request.documentation for c in load_cases([ROOT / "evals" / "holdout-6"]).cases]
    parts: list[str] = []
    while sum(len(p.split()) for p in parts) < words:
        parts.extend(notes)
    text = "\n\n".join(parts)
    request = {
        "patient": {"age": 58},
        "procedures": [{"code": "72148"}, {"code": "72141"}],
        "note_date": date(2026, 11, 20),
        "clinical_notes": text,
    }
    return Case.model_validate({"id": "packet", "request": request})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--words", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--retrieval", action="store_true", help="include hybrid retrieval (loads MiniLM)")
    args = parser.parse_args()
    case = packet(args.words)
    with tempfile.TemporaryDirectory() as tmp:
        reviewer = Reviewer(KnowledgeBase(Settings(data_dir=Path(tmp))), retrieve=args.retrieval)
        reviewer.review(case)  # warm: rules, lexicon and (with --retrieval) the model are loaded
        times = []
        for _ in range(args.rounds):
            read_note.cache_clear()  # each round reads the text afresh (the cache serves one review's stages)
            started = time.perf_counter()
            reviewer.review(case)
            times.append(time.perf_counter() - started)
    words = len(case.request.documentation.split())
    print(f"packet: {words} words, {len(case.request.documentation)} characters, retrieval={args.retrieval}")
    print(f"warm review: median {statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s")


if __name__ == "__main__":
    main()
