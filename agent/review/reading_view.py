"""The Reading of a submission (``agent.cases.reading``), built from the rules reader's facts.

Documents come from ``ask_sources.Sources`` (the clinical notes, each attachment, each pasted document
under its own title line), with their sections (``agent.facts.sections``) and a kind named by their title
(``data/document_kinds.yaml``). The care timeline is the reader's courses (``CareEpisode``) per region,
with planned care (mentions in a plan, "will start PT") beside them, never counted. Red-flag findings are
the counted evidence of each flag and the mentions ruled out, with the ConText modifier that ruled each
out, as an i2b2 assertion class. Nothing here decides anything: the reading is shown, not used.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from functools import lru_cache
from importlib import resources

import yaml

from agent.cases.determination import Determination
from agent.cases.model import RED_FLAG_IDS, Case
from agent.cases.reading import (
    Assertion,
    CourseStatus,
    Reading,
    ReadingCourse,
    ReadingDocument,
    ReadingQuote,
    ReadingSection,
    RedFlagFinding,
    RegionCare,
)
from agent.facts.context import Mention, Modifier
from agent.facts.durations import timeline_vocabulary
from agent.facts.extract import extract_facts
from agent.facts.model import CareEpisode, ClinicalFacts, Evidence, Region
from agent.facts.note import lexicon, rx
from agent.review.ask_intents import vocabulary
from agent.review.ask_sources import Sources

UNSPECIFIED = "unspecified"
MAX_RULED_OUT = 10  # ruled-out mentions kept per red flag (templated review-of-systems blocks repeat them)
HEADER_ONLY = 240  # characters (and HEADER_LINES lines) from a document's first header line to the last of its header block
HEADER_LINES = 3
TITLE_MAX = 100
_HEADER_LINE = re.compile(r"=== ATTACHMENT \d+: [^\n]*===")
# A separator line between pasted documents: a run of = * or # (words inside it allowed: "==== DOCUMENT 2 of 5
# ===="), or dashes or underscores around words ("------ PT NOTE ------"); never a Markdown table rule.
_SEPARATOR = re.compile(
    r"^[ \t]*(?:([=*#])\1{3,}(?:[^\n|]*?\1{4,})?|([-_])\2{5,}[^\n|]*?[A-Za-z][^\n|]*?\2{5,})[ \t]*$", re.MULTILINE
)
_NUMBERING = re.compile(r"(?:document|doc|attachment|record|part|item)\b[\s#\d]*(?:of\s*\d+)?$", re.IGNORECASE)
_PAGE = re.compile(r"\bpage\b", re.IGNORECASE)
_NEXT_LINE = re.compile(r"\s*([^\s])")
_STARTED = re.compile(r"\b(?:since|started|starting|began|begun)\b", re.IGNORECASE)

# ConText modifiers as i2b2 assertion classes, strongest first.
_ASSERTION: tuple[tuple[Modifier, Assertion], ...] = (
    (Modifier.NEGATED, "absent"),
    (Modifier.FAMILY, "someone_else"),
    (Modifier.HYPOTHETICAL, "hypothetical"),
    (Modifier.RESOLVED, "resolved"),
    (Modifier.HISTORICAL, "historical"),
)


@lru_cache(maxsize=1)
def document_kinds() -> list[tuple[str, re.Pattern[str]]]:
    """(kind, pattern) in order; the first whose pattern is in a document's title names its kind."""
    text = resources.files("agent.review").joinpath("data/document_kinds.yaml").read_text(encoding="utf-8")
    return [(kind, re.compile(pattern, re.IGNORECASE)) for kind, pattern in yaml.safe_load(text)["kinds"].items()]


def document_kind(title: str) -> str | None:
    """The kind of document a title names ("PT PROGRESS NOTE 9/14" -> physical therapy note), or None."""
    return next((kind for kind, pattern in document_kinds() if pattern.search(title)), None)


@dataclass(frozen=True)
class _Start:
    """A place where a document may start, with the title and date it gives the document."""

    pos: int
    title: str | None
    when: date | None
    priority: float  # which title and date win within one header block: attachment 3, title line 2, ...
    attachment: bool = False


def _line(text: str, pos: int) -> str | None:
    end = text.find("\n", pos)
    return _clean(text[pos : end if end != -1 else len(text)]) or None


def _clean(words: str) -> str:
    """A heading or title line as a title: decoration and spacing removed, at most TITLE_MAX characters."""
    words = re.sub(r"\s+", " ", words).strip(" :-=*#_\t")
    return words if len(words) <= TITLE_MAX else words[: TITLE_MAX - 3].rstrip() + "..."


class _Builder:
    def __init__(self, case: Case, facts: ClinicalFacts) -> None:
        self.case = case
        self.facts = facts
        self.sources = Sources(case, facts.injections)
        self.note = self.sources.note
        self.documents = self._documents()
        self.frame = Reading(reader=facts.extractor, documents=self.documents)  # places quotes in documents

    # --- documents and sections -------------------------------------------------------------

    def _starts(self) -> list[_Start]:
        """Where documents may start: attachment headers, title lines, dated header lines and separator
        lines ("======== DOCUMENT 3 of 5 ========"), each with what it says of the document."""
        text = self.sources.text
        found = []
        for doc in self.sources.documents:
            if doc.start == 0 and doc.title == "Clinical note":
                continue
            attachment = _HEADER_LINE.match(text, doc.start) is not None
            found.append(_Start(doc.start, _clean(doc.title), doc.date, 3 if attachment else 2, attachment))
        for pos, when in self.note.sections:
            line_start = text.rfind("\n", 0, pos) + 1
            if not text[line_start:pos].strip() and not _HEADER_LINE.match(text, pos):
                found.append(_Start(line_start, _line(text, pos), when, 1))
        for sep in _SEPARATOR.finditer(text):
            if not _HEADER_LINE.match(text, sep.start()) and not _PAGE.search(sep.group()):  # a page break is no new document
                own = _clean(sep.group())  # "------ PT NOTE ------" names its document; "==== DOCUMENT 2 of 5 ====" does not
                following = _NEXT_LINE.match(text, sep.end())
                title = own if own and not _NUMBERING.match(own) else _line(text, following.start(1)) if following else None
                found.append(_Start(sep.start(), title, None, 1.5))
        return sorted((f for f in found if not self._planted(f.pos, f.pos + 1)), key=lambda f: (f.pos, -f.priority))

    def _header_block(self, first: int, pos: int) -> bool:
        """``pos`` is in the header block opened at ``first``: a few lines on, with no blank line and no
        section heading between (a title line after a body is a new document)."""
        between = self.sources.text[first:pos]
        return (
            len(between) <= HEADER_ONLY
            and between.count("\n") <= HEADER_LINES
            and not re.search(r"\n[ \t]*\n", between)
            and not any(first < s.heading_start < pos for s in self.note.layout if s.kind != "title")
        )

    def _documents(self) -> list[ReadingDocument]:
        text = self.sources.text
        groups: list[list[_Start]] = []
        for candidate in self._starts():
            last = groups[-1] if groups else None
            if last is not None and not candidate.attachment and self._header_block(last[0].pos, candidate.pos):
                last.append(candidate)  # the header block of the same document
            else:
                groups.append([candidate])
        if not groups or text[: groups[0][0].pos].strip():
            groups.insert(0, [_Start(0, "Clinical note", None, 0)])
        else:
            groups[0][0] = replace(groups[0][0], pos=0)
        documents = []
        for number, group in enumerate(groups, start=1):
            start = group[0].pos
            end = groups[number][0].pos if number < len(groups) else len(text)
            best = max((g for g in group if g.title), key=lambda g: g.priority, default=None)
            title = best.title if best and best.title else "Clinical note"
            dates = [g.when for g in sorted(group, key=lambda g: -g.priority) if g.when]
            when = dates[0] if dates else self.note.written_on(start) or (self.case.request.note_date if number == 1 else None)
            sections = [
                ReadingSection(heading=_clean(s.heading), kind=s.kind, start=s.heading_start, end=s.end)
                for s in self.note.layout
                if s.kind != "title" and start <= s.heading_start < end and not self._planted(s.heading_start, s.heading_end)
            ]
            words = " ".join(g.title for g in group if g.title)
            documents.append(
                ReadingDocument(
                    number=number, title=title, kind=document_kind(words), date=when, start=start, end=end, sections=sections
                )
            )
        return documents

    def _planted(self, start: int, end: int) -> bool:
        return any(e.start < end and start < e.end for e in self.facts.injections)

    def quote(self, start: int, end: int) -> ReadingQuote:
        text = self.sources.text
        head = _HEADER_LINE.match(text, start)
        if head and head.end() < end:  # the header names the document, which the quote carries
            start = head.end()
            while start < end - 1 and text[start].isspace():
                start += 1
        return self.frame.locate(text, start, end)

    def from_evidence(self, e: Evidence) -> ReadingQuote:
        return self.quote(e.start, e.end)

    # --- the care timeline ------------------------------------------------------------------

    def _status(self, course: CareEpisode) -> CourseStatus:
        vocabulary_ = timeline_vocabulary()
        words = " ".join(e.quote for e in course.evidence)
        if vocabulary_["completed_words"].search(words):
            return "completed"
        if vocabulary_["ongoing_words"].search(words) or (course.dated and _STARTED.search(words)):
            return "ongoing"
        return "completed"

    def _course(self, course: CareEpisode) -> ReadingCourse:
        quotes = _unique([self.from_evidence(e) for e in course.evidence if not self._planted(e.start, e.end)])
        return ReadingCourse(
            modality=course.modality,
            label=_label(course.modality),
            status=self._status(course),
            weeks=course.weeks,
            started=course.started,
            ended=course.ended,
            dated=course.dated,
            regions=[r.value for r in course.regions],
            document=quotes[-1].document if quotes else None,
            quotes=quotes,
        )

    def _planned(self) -> list[ReadingCourse]:
        """Care planned or proposed ("will start PT", a plan section): shown, never counted."""
        lex = lexicon()
        seen: set[tuple[str, int]] = set()
        planned = []
        for name, patterns in lex["conservative_care"].items():
            for m in self.note.mentions(f"care:{name}", patterns):
                if Modifier.HYPOTHETICAL not in m.modifiers or m.modifiers & {Modifier.NEGATED, Modifier.FAMILY}:
                    continue
                if (name, m.sentence.start) in seen:
                    continue
                seen.add((name, m.sentence.start))
                lengths = [d.weeks for d in self.note.durations(m.sentence)]
                quote = self.from_evidence(self.note.evidence(m.start, m.end, m.sentence))
                planned.append(
                    ReadingCourse(
                        modality=name,
                        label=_label(name),
                        status="planned",
                        weeks=round(max(lengths), 1) if lengths else None,
                        regions=_regions(m),
                        document=quote.document,
                        quotes=[quote],
                    )
                )
        return planned

    def care(self, regions: list[str]) -> list[RegionCare]:
        cc = self.facts.conservative_care
        courses = [(e, self._course(e)) for e in cc.episodes]
        planned = self._planned()
        named = {r for _, c in courses for r in c.regions} | {r for c in planned for r in c.regions}
        shown = [r.value for r in Region if r.value in set(regions) | named]
        if not shown:
            everything = [c for _, c in courses] + planned
            return [RegionCare(region=UNSPECIFIED, weeks=cc.weeks_for(), courses=everything)] if everything else []
        timeline = []
        for region in shown:
            own = [c for e, c in courses if e.for_region(region)] + [p for p in planned if not p.regions or region in p.regions]
            timeline.append(RegionCare(region=region, weeks=cc.weeks_for(region=region), courses=own))
        return timeline

    # --- red flags --------------------------------------------------------------------------

    def red_flags(self) -> list[RedFlagFinding]:
        findings: list[RedFlagFinding] = []
        lex = lexicon()["red_flags"]
        for flag in RED_FLAG_IDS:
            fact = self.facts.red_flags.get(flag)
            spec = lex.get(flag, {"patterns": [], "counts_if_historical": False})
            mentions = self.note.mentions(flag, spec["patterns"])
            counted: set[tuple[int, int]] = set()
            for e in fact.evidence if fact is not None else []:
                if self._planted(e.start, e.end):
                    continue
                quote = self.from_evidence(e)
                historical = any(
                    Modifier.HISTORICAL in m.modifiers for m in mentions if quote.start <= m.start and m.end <= quote.end
                )
                counted.add((quote.start, quote.end))
                findings.append(
                    RedFlagFinding(
                        flag=flag,
                        counted=True,
                        assertion="present",
                        temporality="historical" if historical else "current",
                        quote=quote,
                    )
                )
            ruled_out: list[RedFlagFinding] = []
            for m in mentions:
                if m.asserted and not (Modifier.HISTORICAL in m.modifiers and not spec["counts_if_historical"]):
                    continue
                quote = self.from_evidence(self.note.evidence(m.start, m.end, m.sentence))
                if (quote.start, quote.end) in counted or any(f.quote.start == quote.start for f in ruled_out):
                    continue
                ruled_out.append(_ruled_out(flag, m, quote))
            findings += ruled_out[:MAX_RULED_OUT]
        return sorted(findings, key=lambda f: not f.counted)  # counted first, each group in flag order


def _ruled_out(flag: str, m: Mention, quote: ReadingQuote) -> RedFlagFinding:
    assertion = next(a for modifier, a in _ASSERTION if modifier in m.modifiers)
    why = ", ".join(
        dict.fromkeys(
            f"section {_clean(where.removeprefix('section:'))}" if where.startswith("section:") else f'"{where}"'
            for _, where in m.triggers
        )
    )
    return RedFlagFinding(
        flag=flag,
        counted=False,
        assertion=assertion,
        experiencer="other" if Modifier.FAMILY in m.modifiers else "patient",
        temporality="historical" if Modifier.HISTORICAL in m.modifiers else "current",
        why=why or None,
        quote=quote,
    )


def _label(modality: str) -> str:
    return vocabulary().modality_labels.get(modality, modality.replace("_", " "))


def _regions(m: Mention) -> list[str]:
    named = lexicon()["symptom_regions"]
    return [region for region, patterns in named.items() if rx("|".join(patterns)).search(m.sentence.text)]


def _unique(quotes: list[ReadingQuote]) -> list[ReadingQuote]:
    return list({(q.start, q.end): q for q in quotes}.values())


def build_reading(case: Case, facts: ClinicalFacts, regions: list[str] | None = None) -> Reading:
    """The reading of ``case`` from the rules reader's ``facts`` (``extract_facts(case)``); the care
    timeline is shown for ``regions`` (the requested codes' regions) and every region a course names."""
    builder = _Builder(case, facts)
    cc = facts.conservative_care
    return Reading(
        reader=facts.extractor,
        note_date=case.request.note_date,
        documents=builder.documents,
        care_weeks=cc.weeks_for() if cc.episodes else None,
        care=builder.care(regions or []),
        red_flags_present=facts.present_flags(),
        red_flag_codes={flag: fact.codes for flag, fact in facts.red_flags.items() if fact.codes},
        red_flags=builder.red_flags(),
    )


def reading_of(case: Case, det: Determination) -> Reading:
    """The determination's reading; for one stored before readings were kept, the case read again."""
    if det.reading is not None:
        return det.reading
    regions = [d.region for d in det.determinations if d.region]
    return build_reading(case, extract_facts(case), regions)
