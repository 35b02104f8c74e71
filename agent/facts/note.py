"""One clinical note as the reader sees it: text split into sentences once, the lexicon (data), and
helpers to find mentions, quote evidence and date what a dated section says."""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache
from typing import Any

import yaml

from agent.facts.context import Mention, TargetRule, find_mentions
from agent.facts.durations import DurationMention, find_durations, section_dates
from agent.facts.model import Evidence
from agent.facts.textspans import Sentence

QUOTE_MAX = 220


@lru_cache(maxsize=1)
def lexicon() -> dict[str, Any]:
    text = importlib.resources.files("agent.facts").joinpath("data/lexicon.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


@lru_cache(maxsize=512)
def rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


@dataclass
class Note:
    """One note, split once, with helpers to find mentions and quote evidence."""

    text: str
    sentences: list[Sentence]
    note_date: date | None
    age: int

    def mentions(self, concept: str, patterns: Iterable[str]) -> list[Mention]:
        rules = [TargetRule(concept=concept, pattern=p) for p in patterns]
        return find_mentions(self.text, rules, sentences=self.sentences)

    def evidence(self, start: int, end: int, sentence: Sentence | None = None, term: str | None = None) -> Evidence:
        """The sentence around a match, trimmed to QUOTE_MAX characters, as verbatim evidence."""
        sent = sentence or self.sentence_at(start)
        s, e = (sent.start, sent.end) if sent else (start, end)
        if e - s > QUOTE_MAX:
            s = max(s, start - (QUOTE_MAX - (end - start)) // 2)
            e = min(e, s + QUOTE_MAX)
            s = max(s, min(start, e - QUOTE_MAX))
        return Evidence(quote=self.text[s:e], start=s, end=e, term=term or self.text[start:end])

    def sentence_at(self, pos: int) -> Sentence | None:
        return next((s for s in self.sentences if s.start <= pos < s.end), None)

    def durations(self, sentence: Sentence) -> list[DurationMention]:
        return find_durations(sentence.text, note_date=self.note_date, offset=sentence.start)

    @cached_property
    def sections(self) -> list[tuple[int, date]]:
        return section_dates(self.text, note_date=self.note_date)

    def written_on(self, pos: int) -> date | None:
        """The date of the dated section holding ``pos`` (an earlier visit in a combined note), if any."""
        dated = [when for start, when in self.sections if start <= pos]
        return dated[-1] if dated else None

    def weeks_as_of_note_date(self, d: DurationMention) -> float:
        """A stated length ("2-3 wks of pain", "began 2 months ago") in a section written before the
        note date, carried forward to the note date: on 9/18, "x2 wks" written on 7/21 is ~10 weeks."""
        written = self.written_on(d.start)
        if d.kind in ("length", "ago") and written is not None and self.note_date is not None and written < self.note_date:
            return d.weeks + (self.note_date - written).days / 7
        return d.weeks
