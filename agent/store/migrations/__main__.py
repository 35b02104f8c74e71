"""``python -m agent.store.migrations revision "add X"``: write the next revision file (a developer tool)."""

from __future__ import annotations

import sys

from agent.store.migrations import new_revision


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "revision":
        print('usage: python -m agent.store.migrations revision "what the revision changes"', file=sys.stderr)
        return 2
    print(new_revision(argv[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
