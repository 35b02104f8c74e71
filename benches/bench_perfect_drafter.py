"""The perfect-drafter eval (issue 10): per labeled set, the rules alone against a model that returns
the labeled decisions with valid evidence (tests/perfect_drafter.py), served over real HTTP by the
fake OpenAI server. Prints accuracy and unsafe denials of both; no assertions.
Run: python benches/bench_perfect_drafter.py [SET ...]   (default: every set under evals/)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).parent.parent
sys.path.insert(0, str(ROOT))

from agent.knowledge.base import KnowledgeBase  # noqa: E402
from agent.settings import Settings  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402
from tests.perfect_drafter import labeled_cases, reviewers, score  # noqa: E402

POLICIES = {"payer": "payer-model"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("sets", nargs="*", help="folders under evals/ (default: all)")
    parser.add_argument("--verbose", action="store_true", help="list the wrong codes")
    args = parser.parse_args()
    names = args.sets or sorted(p.name for p in (ROOT / "evals").iterdir() if p.is_dir() and p.name != "blind")
    fake = FakeOpenAI().start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            kb = KnowledgeBase(Settings(data_dir=Path(tmp)))
            print(f"{'set':<12} {'codes':>5}  {'rules alone':>14} {'unsafe':>6}  {'perfect drafter':>16} {'unsafe':>6}  seconds")
            for name in names:
                rules, drafter = reviewers(kb, fake, Path(tmp), POLICIES.get(name))
                cases = labeled_cases(ROOT / "evals" / name)
                started = time.perf_counter()
                base = score(rules, cases)
                perfect = score(drafter, cases, fake)
                took = time.perf_counter() - started
                print(
                    f"{name:<12} {base.codes:>5}  {base.correct:>4} = {base.accuracy:.3f} {len(base.unsafe):>6}  "
                    f"{perfect.correct:>6} = {perfect.accuracy:.3f} {len(perfect.unsafe):>6}  {took:.0f}"
                )
                if args.verbose:
                    for line in perfect.wrong:
                        print("    perfect drafter wrong:", line)
                    for line in perfect.unsafe:
                        print("    perfect drafter UNSAFE:", line)
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
