"""The Reading: how the rules reader read a submission, as part of a determination.

The documents of the submission (title, kind, date, the sections found in each), the care timeline
per spine region (each course: modality, dates or length, completed, ongoing or planned, the document
and the words it comes from) and the red-flag findings (each mention with its quote, document, section
and assertion: present, or why it does not count). Every quote is verbatim: ``documentation[start:end]``
(``Request.documentation``), so a page can point at the words.

A stored determination made before the reading was kept has ``reading`` None; it is built again from
the stored case when it is shown.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

CourseStatus = Literal["completed", "ongoing", "planned"]
Assertion = Literal["present", "absent", "possible", "hypothetical", "conditional", "someone_else", "historical", "resolved"]
"""i2b2 2010 assertion classes, with the two temporal ones the reader keeps apart (historical, resolved)."""

ASSERTION_WORDS: dict[str, str] = {
    "present": "present (asserted for the patient now)",
    "absent": "absent (negated)",
    "possible": "possible (uncertain)",
    "hypothetical": "hypothetical or planned (a precaution, question or plan)",
    "conditional": "conditional",
    "someone_else": "about someone else (family history)",
    "historical": "past history",
    "resolved": "resolved",
}

_MODEL = ConfigDict(extra="forbid")


class ReadingQuote(BaseModel):
    """A verbatim span of the documentation with the document and section it sits in."""

    model_config = _MODEL
    text: str = Field(min_length=1)
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    document: int = Field(ge=1, description="number of the document in ``Reading.documents`` (1-based)")
    section: str | None = Field(default=None, description="the heading of the section the span sits under")


class ReadingSection(BaseModel):
    """A section of one document: its heading as written and what kind of section it is."""

    model_config = _MODEL
    heading: str
    kind: str = Field(description="the section kind (hpi, past_medical_history, family_history, plan, ...)")
    start: int = Field(ge=0, description="offset of the heading")
    end: int = Field(ge=0, description="end of the section body")


class ReadingDocument(BaseModel):
    """One document of the submission: the clinical notes, an attachment, or a document pasted into them
    under its own title line ("PT PROGRESS NOTE 02/01/2026")."""

    model_config = _MODEL
    number: int = Field(ge=1)
    title: str
    kind: str | None = Field(default=None, description="the kind of document its title names (PT note, consult, ...)")
    date: dt.date | None = None
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    sections: list[ReadingSection] = Field(default_factory=list)


class ReadingCourse(BaseModel):
    """One course of conservative care on the timeline (or one planned)."""

    model_config = _MODEL
    modality: str = Field(description="modality id (physical_therapy, nsaids, ...)")
    label: str = Field(description="the modality in words")
    status: CourseStatus
    weeks: float | None = Field(default=None, ge=0, description="its length in weeks, when stated or dated")
    started: dt.date | None = None
    ended: dt.date | None = None
    dated: bool = Field(default=False, description="the documentation states when it ran (else: a stated length)")
    regions: list[str] = Field(default_factory=list, description="regions its sentence names (empty: not said)")
    document: int | None = Field(default=None, ge=1, description="the document that states it")
    quotes: list[ReadingQuote] = Field(default_factory=list)


class RegionCare(BaseModel):
    """The care timeline of one region: courses naming the region and those naming none."""

    model_config = _MODEL
    region: str = Field(description="cervical, thoracic, lumbar, or 'unspecified' for courses naming no region")
    weeks: float | None = Field(default=None, description="weeks of completed or ongoing care counted for the region")
    courses: list[ReadingCourse] = Field(default_factory=list)


class RedFlagFinding(BaseModel):
    """One mention of a red flag: counted (present) or ruled out, with the reason."""

    model_config = _MODEL
    flag: str
    counted: bool = Field(description="the mention makes the red flag present")
    assertion: Assertion
    experiencer: Literal["patient", "other"] = "patient"
    temporality: Literal["current", "historical"] = "current"
    why: str | None = Field(
        default=None, description="the ConText trigger words or the section that set the assertion ('\"denies\"', 'section FHx')"
    )
    quote: ReadingQuote


class Reading(BaseModel):
    """What the rules reader read in the submission, with the place of every quote."""

    model_config = _MODEL
    reader: str = Field(description="the reader that produced it, e.g. 'rules:extract-1'")
    note_date: dt.date | None = None
    documents: list[ReadingDocument] = Field(default_factory=list)
    care_weeks: float | None = Field(default=None, description="weeks of documented care, all regions together")
    care: list[RegionCare] = Field(default_factory=list, description="the care timeline per region")
    red_flags_present: list[str] = Field(default_factory=list)
    red_flag_codes: dict[str, list[str]] = Field(
        default_factory=dict, description="red flag -> diagnosis codes of the request that support it"
    )
    red_flags: list[RedFlagFinding] = Field(default_factory=list)

    def document(self, number: int | None) -> ReadingDocument | None:
        return next((d for d in self.documents if d.number == number), None)

    def document_at(self, pos: int) -> int:
        """The number of the document holding offset ``pos`` (1 when there are no documents)."""
        holding = [d.number for d in self.documents if d.start <= pos]
        return holding[-1] if holding else 1

    def section_at(self, pos: int) -> str | None:
        """The heading of the innermost section holding ``pos``."""
        doc = self.document(self.document_at(pos))
        inside = [s for s in (doc.sections if doc else []) if s.start <= pos < s.end]
        return inside[-1].heading if inside else None

    def locate(self, text: str, start: int, end: int) -> ReadingQuote:
        """``text[start:end]`` (the documentation) as a quote placed in these documents."""
        return ReadingQuote(
            text=text[start:end], start=start, end=end, document=self.document_at(start), section=self.section_at(start)
        )

    def where(self, quote: ReadingQuote) -> str:
        """'title (date), section' of a quote, for text renderings."""
        doc = self.document(quote.document)
        title = doc.title if doc else f"document {quote.document}"
        when = f" ({doc.date.isoformat()})" if doc and doc.date else ""
        return f"{title}{when}" + (f", {quote.section}" if quote.section else "")
