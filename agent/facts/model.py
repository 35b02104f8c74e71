"""ClinicalFacts: what the note says, each fact with a status, verbatim quotes and spans.

Produced by the deterministic extractor (``agent.facts.extract``) and, with the LLM backend, by the
model; the criteria engine and the validator read only this structure, never the raw note.
"""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator

from agent.cases.model import RED_FLAG_IDS


class FactStatus(StrEnum):
    present = "present"
    absent = "absent"
    not_documented = "not_documented"


class Region(StrEnum):
    cervical = "cervical"
    thoracic = "thoracic"
    lumbar = "lumbar"


class Evidence(BaseModel):
    """A verbatim span of the note: ``note[start:end] == quote``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    quote: str
    start: int = Field(ge=0)
    end: int = Field(ge=0)
    term: str | None = Field(default=None, description="the rule or term that matched, for explanations")


class Fact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: FactStatus = FactStatus.not_documented
    evidence: list[Evidence] = Field(default_factory=list, description="asserted mentions (status present)")
    discounted: list[Evidence] = Field(
        default_factory=list, description="negated, family, hypothetical or resolved mentions (not counted)"
    )
    regions: list[Region] = Field(default_factory=list, description="body regions the fact refers to, if known")
    value: float | None = None
    detail: str | None = None
    conflicts: list[Evidence] = Field(
        default_factory=list, description="statements denying the fact outright although the note also asserts it"
    )
    codes: list[str] = Field(
        default_factory=list, description="diagnosis codes on the request that support the fact (structured evidence)"
    )

    def in_region(self, region: Region | str | None) -> bool:
        """Present, and (if regions are known) refers to ``region``."""
        if self.status != FactStatus.present:
            return False
        return not self.regions or region is None or Region(region) in self.regions


class Modality(BaseModel):
    """One conservative-care modality (PT, NSAIDs, chiropractic, ...)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    status: FactStatus
    weeks: float | None = None
    evidence: list[Evidence] = Field(default_factory=list)
    started: date | None = Field(default=None, description="first day of the dated course, when the note gives it")
    ended: date | None = Field(default=None, description="last day of the dated course (the note date if ongoing)")

    def weeks_within(self, window_weeks: float, note_date: date | None) -> float | None:
        """Weeks of this course inside the ``window_weeks`` before ``note_date``. A course without
        dates counts in full (its timing cannot be checked); None without weeks."""
        if self.weeks is None:
            return None
        if note_date is None or self.ended is None:
            return self.weeks
        window_start = note_date - timedelta(days=round(window_weeks * 7))
        end = min(self.ended, note_date)
        start = self.started or (self.ended - timedelta(days=round(self.weeks * 7)))
        return max(0.0, (end - max(start, window_start)).days / 7)


class CareEpisode(BaseModel):
    """One course of one modality on the care timeline: when it ran, which region it was for, and
    the words that say so. ``dated`` is True where the note states when it ran (a date range,
    "since 8/3", "started 6 weeks ago"); otherwise the course is a stated length placed to end on the
    date of the document that states it (or where a sequence word puts it: "..., then 3 weeks of PT")."""

    model_config = ConfigDict(extra="forbid")
    modality: str
    weeks: float = Field(ge=0)
    started: date | None = None
    ended: date | None = None
    dated: bool = False
    regions: list[Region] = Field(default_factory=list, description="regions its sentence names (empty: not said)")
    document_date: date | None = Field(default=None, description="date of the document that states it")
    chained: bool = Field(default=False, description="placed before or after another course by a sequence word")
    evidence: list[Evidence] = Field(default_factory=list, description="the treatment and the words giving its length")

    @property
    def placed(self) -> bool:
        """On the calendar: dated by the note, ending on the date of a dated document, or chained to
        another course. A bare length in an undated note may have run at any time, so it is not."""
        return self.ended is not None and (self.dated or self.document_date is not None or self.chained)

    def for_region(self, region: Region | str | None) -> bool:
        return region is None or not self.regions or Region(region) in self.regions

    def interval(self, window_start: date | None = None) -> tuple[date, date] | None:
        """(first day, last day) on the calendar, clipped to start at ``window_start``; None when the
        course cannot be placed on the calendar."""
        if self.ended is None:
            return None
        start = self.started or (self.ended - timedelta(days=round(self.weeks * 7)))
        if window_start is not None:
            start = max(start, window_start)
        return (start, self.ended) if start <= self.ended else (self.ended, self.ended)


def union_weeks(intervals: list[tuple[date, date]]) -> float:
    """Weeks covered by the union of calendar intervals: sequential courses add up, concurrent ones
    do not double-count."""
    total = 0
    reach: date | None = None
    for start, end in sorted(intervals):
        if reach is None or start > reach:
            total += (end - start).days
            reach = end
        elif end > reach:
            total += (end - reach).days
            reach = end
    return total / 7


class ConservativeCare(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: FactStatus = FactStatus.not_documented
    modalities: list[Modality] = Field(default_factory=list)
    episodes: list[CareEpisode] = Field(default_factory=list, description="the care timeline, one course per entry")
    total_weeks: float | None = Field(
        default=None,
        description="weeks of documented treatment: the union of the courses on the calendar (sequential "
        "courses add up, concurrent ones do not)",
    )
    duration_evidence: list[Evidence] = Field(default_factory=list)
    conflicts: list[Evidence] = Field(
        default_factory=list, description="later statements denying treatment the note claims earlier"
    )
    conflict_regions: list[list[Region]] = Field(
        default_factory=list,
        description="per conflict, the spine regions its sentence names (none: it bears on every region)",
    )

    def conflicts_for(self, region: Region | str | None) -> list[Evidence]:
        """The conflicts that bear on ``region``: "No PT for the neck yet" does not contradict lumbar care."""
        if region is None:
            return list(self.conflicts)
        regions = self.conflict_regions + [[]] * (len(self.conflicts) - len(self.conflict_regions))
        return [e for e, named in zip(self.conflicts, regions, strict=False) if not named or Region(region) in named]

    @model_validator(mode="after")
    def _courses_from_modalities(self) -> ConservativeCare:
        """Facts built without a timeline (by hand, or by a reader that reports modalities only) get
        one course per modality with a length."""
        if not self.episodes:
            self.episodes = [
                CareEpisode(
                    modality=m.name,
                    weeks=m.weeks,
                    started=m.started,
                    ended=m.ended,
                    dated=m.started is not None,
                    evidence=m.evidence[:2],
                )
                for m in self.modalities
                if m.status == FactStatus.present and m.weeks is not None
            ]
        return self

    def weeks_for(
        self,
        *,
        region: Region | str | None = None,
        modalities: list[str] | None = None,
        exclude_undated: bool = False,
        within_weeks: float | None = None,
        note_date: date | None = None,
    ) -> float | None:
        """Weeks of documented treatment for ``region`` (courses naming another region do not count),
        of the named modalities, optionally only inside the ``within_weeks`` before ``note_date``.
        Courses on the calendar count as the union of their intervals; a course that cannot be placed
        counts in full on its own and never adds to another (it may have run at the same time).
        None when no course has a length."""
        courses = [
            e
            for e in self.episodes
            if e.for_region(region)
            and (modalities is None or e.modality in modalities)
            and not (exclude_undated and not e.dated and e.document_date is None)
        ]
        if not courses:
            return None
        window_start = None
        if within_weeks is not None and note_date is not None:
            window_start = note_date - timedelta(days=round(within_weeks * 7))
        placed = [i for e in courses if e.placed and (i := e.interval(window_start)) is not None]
        loose = [e.weeks for e in courses if not e.placed]
        return round(max([union_weeks(placed), *loose]), 1)

    @property
    def evidence(self) -> list[Evidence]:
        quotes = [e for m in self.modalities if m.status == FactStatus.present for e in m.evidence]
        return quotes + [e for e in self.duration_evidence if e not in quotes]


class PriorSurgery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    region: Region | None
    evidence: Evidence
    weeks_ago: float | None = None


def _six_flags() -> dict[str, Fact]:
    return {flag: Fact() for flag in RED_FLAG_IDS}


class ClinicalFacts(BaseModel):
    """Everything the criteria engine may use, with evidence."""

    model_config = ConfigDict(extra="forbid")
    extractor: str = Field(description="what produced these facts, e.g. 'rules:extract-1' or 'llm:gpt-4o'")
    red_flags: dict[str, Fact] = Field(default_factory=_six_flags)
    symptom_weeks: Fact = Field(default_factory=Fact, description="duration of the current symptoms (value)")
    symptom_regions: list[Region] = Field(default_factory=list)
    progression: Fact = Field(default_factory=Fact, description="persistent or progressive symptoms")
    worsening: Fact = Field(default_factory=Fact, description="new or progressing symptoms or findings")
    conservative_care: ConservativeCare = Field(default_factory=ConservativeCare)
    radiculopathy: Fact = Field(default_factory=Fact)
    neuro_deficit: Fact = Field(default_factory=Fact, description="objective motor, sensory or reflex deficit")
    candidacy: Fact = Field(default_factory=Fact, description="candidate for surgery or intervention")
    prior_surgery: list[PriorSurgery] = Field(default_factory=list)
    prior_imaging: Fact = Field(default_factory=Fact)
    functional_impairment: Fact = Field(default_factory=Fact)
    # Facts the criteria need beyond the red flags (issue 15); optional, not documented by default.
    low_energy_trauma: Fact = Field(
        default_factory=Fact, description="a fall from standing, a slip or trip, or other minor trauma (any age)"
    )
    bone_fragility: Fact = Field(
        default_factory=Fact,
        description="osteoporosis or osteopenia documented anywhere, including the history (a chronic condition)",
    )
    radiographs_degenerative: Fact = Field(
        default_factory=Fact, description="earlier radiographs of the region show degenerative changes (regions)"
    )
    radiographs_opll: Fact = Field(
        default_factory=Fact,
        description="earlier radiographs show ossification of the posterior longitudinal ligament (regions)",
    )
    cervicogenic_headache: Fact = Field(
        default_factory=Fact,
        description="a headache the note ties to the neck: named cervicogenic, said to start in the neck, or "
        "provoked by neck movement or posture (a migraine or tension headache on its own is not)",
    )
    lesion_to_characterise: Fact = Field(
        default_factory=Fact,
        description="imaging is wanted to characterise a lesion found on earlier imaging or at surgery (an "
        "indeterminate mass, an enlarged nerve root ganglion), a question outside the pain variants (regions)",
    )
    injections: list[Evidence] = Field(
        default_factory=list, description="instructions addressed to a reviewer or model: flagged, never obeyed"
    )

    def present_flags(self) -> list[str]:
        return [flag for flag, fact in self.red_flags.items() if fact.status == FactStatus.present]

    def fact(self, name: str) -> Fact:
        """A fact by its criteria-file name (``radiculopathy``, ``candidacy``, ...)."""
        value = getattr(self, name, None)
        if not isinstance(value, Fact):
            raise KeyError(name)
        return value


RED_FLAG_LABELS = {
    "cauda_equina": "suspected cauda equina syndrome (new urinary retention or incontinence, saddle anesthesia, "
    "bilateral leg deficits)",
    "progressive_neuro_deficit": "a severe or progressive neurologic deficit (foot drop, worsening motor weakness)",
    "infection": "suspected spinal infection (fever, IV drug use, immunosuppression, bacteremia, raised ESR/CRP)",
    "malignancy": "suspected malignancy (history of cancer with new spine pain, unexplained weight loss)",
    "fracture": "suspected fracture (significant trauma, osteoporosis, long-term steroids, older age with a fall)",
    "myelopathy": "suspected spinal cord compression (gait disturbance, hand clumsiness, hyperreflexia, Hoffmann "
    "or Lhermitte sign)",
}

FACT_NAMES = (
    "symptom_weeks",
    "progression",
    "worsening",
    "radiculopathy",
    "neuro_deficit",
    "candidacy",
    "prior_imaging",
    "functional_impairment",
    "low_energy_trauma",
    "bone_fragility",
    "radiographs_degenerative",
    "radiographs_opll",
    "cervicogenic_headache",
    "lesion_to_characterise",
)
