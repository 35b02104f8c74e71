"""The reader's sentence prefilter (``agent.facts.context._candidate_sentences``) is sound: it never
drops a sentence a target pattern matches in. Checked as a table of tricky patterns, then for every
pattern of the lexicon over real and synthetic notes of two labeled sets."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.cases.load import load_cases
from agent.facts.context import _candidate_sentences, _relaxed
from agent.facts.note import lexicon
from agent.facts.textspans import split_sentences

ROOT = Path(__file__).parent.parent


def _matching_sentences(note: str, pattern: str) -> set[int]:
    regex = re.compile(pattern, re.IGNORECASE)
    sentences = split_sentences(note)
    return {i for i, s in enumerate(sentences) if any(m.end() > m.start() for m in regex.finditer(s.text))}


TRICKY = [
    # (id, pattern, note)
    ("lookbehind-at-sentence-start", r"(?<!no\s)weakness", "She has no. Weakness of the left leg."),
    ("word-boundary-at-edges", r"\bfever\b", "Afebrile today.Fever last week."),
    ("negative-lookahead-next-sentence", r"cancer(?!\s+screening)", "Breast cancer. Screening is up to date."),
    ("anchor-start", r"^pain", "Back hurts. Pain radiates to the calf."),
    ("anchor-end", r"leg$", "Worse at night. Numbness in the leg"),
    ("case-sensitive-group", r"(?-i:ESI)", "Plan: ESI at L5. esi was discussed."),
    ("upper-class-range", r"\b[CTL]\d-\d\b", "Disc bulge at l4-5. Stenosis at C5-6."),
    ("negated-class-escape", r"\S+ fracture", "old fracture. T12 fracture seen."),
    ("long-match-across-boundary", r"pain.{0,40}numb", "Pain in back. Numb toes. Pain and numb feet."),
    ("named-group", r"(?P<lvl>L\d)\s+radiculopathy", "Right L5 radiculopathy. Resolved."),
    ("non-ascii-note", r"\bnaïve\b", "Treatment naïve. No NSAIDs."),
    ("upper-case-literal-in-lower-note", r"HIV", "hiv positive. Known."),
]


@pytest.mark.parametrize(("pattern", "note"), [pytest.param(p, n, id=i) for i, p, n in TRICKY])
def test_prefilter_keeps_every_matching_sentence(pattern: str, note: str) -> None:
    sentences = split_sentences(note)
    candidates = _candidate_sentences(note, sentences, [pattern])
    expected = _matching_sentences(note, pattern)
    assert expected, "each row must have at least one real match"
    assert candidates is None or expected <= candidates


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"(\w+) and \1", "numbered back-reference"),
        (r"(?P<x>a)(?P=x)", "named back-reference"),
        (r"(a)?(?(1)b|c)", "conditional"),
        (r"\x41BC", "character escape by code"),
        (r"(?:pain)?", "matches the empty string"),
    ],
)
def test_patterns_that_cannot_be_relaxed_scan_every_sentence(pattern: str, why: str) -> None:
    assert _relaxed(pattern, True) is None, why
    assert _candidate_sentences("A pain. B pain.", split_sentences("A pain. B pain."), [pattern]) is None


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def _lexicon_patterns() -> list[str]:
    patterns = []
    for text in sorted(set(_strings(lexicon()))):
        try:
            re.compile(text, re.IGNORECASE)
        except re.error:
            continue
        patterns.append(text)
    return patterns


def test_prefilter_is_sound_for_the_lexicon_over_labeled_notes() -> None:
    notes = [c.request.documentation for c in load_cases([ROOT / "evals" / "holdout-7"]).cases]
    note = "\n\n".join(notes)
    sentences = split_sentences(note)
    patterns = _lexicon_patterns()
    assert len(patterns) > 100
    relaxed = 0
    for pattern in patterns:
        candidates = _candidate_sentences(note, sentences, [pattern])
        if candidates is None:
            continue
        relaxed += 1
        missed = _matching_sentences(note, pattern) - candidates
        assert not missed, (pattern, [sentences[i].text for i in sorted(missed)][:3])
    assert relaxed > 0.9 * len(patterns)  # the prefilter applies to nearly every pattern
