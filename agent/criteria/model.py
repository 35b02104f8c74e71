"""Criteria as data: the models of the criteria YAML files and their loader.

Files (package data of ``umreview_guidelines``, i.e. the repository's guidelines/ folder):

* ``codes.yaml`` - every procedure code in scope: region, procedure kind, plain label;
* ``<document>.criteria.yaml`` - beside ``<document>.md``: the topics that guideline defines
  (region, red flags bearing on it, the criteria checklist, the variants and their ratings);
* ``<name>.policy.yaml`` - a criteria set: which topics, how ratings map to decisions.

Every model forbids unknown keys, so a typo fails with the file and the field path.
The one engine that interprets these lives in ``agent.criteria.engine``.
"""

from __future__ import annotations

import itertools
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from agent.cases.model import RED_FLAG_IDS, Decision
from agent.errors import CriteriaFileError, NoCriteriaInForce
from agent.facts.model import FACT_NAMES, Region

_STRICT = ConfigDict(extra="forbid", populate_by_name=True)
_M = TypeVar("_M", bound=BaseModel)


class Rating(StrEnum):
    UA = "UA"  # usually appropriate (7-9)
    MBA = "MBA"  # may be appropriate (4-6)
    UNA = "UNA"  # usually not appropriate (1-3)

    @property
    def label(self) -> str:
        return {"UA": "usually appropriate", "MBA": "may be appropriate", "UNA": "usually not appropriate"}[self.value]


RATING_ORDER = {Rating.UA: 3, Rating.MBA: 2, Rating.UNA: 1}

ProcedureKind = Literal["mri_wo", "mri_with", "mri_wwo", "ct_wo", "ct_with", "ct_wwo", "xr"]


class CodeInfo(BaseModel):
    model_config = _STRICT
    region: Region
    procedure: ProcedureKind
    label: str
    refer: str | None = Field(
        default=None,
        description="always refer this code, for this reason (e.g. a CT-with-contrast code that is also billed as the "
        "CT half of a CT myelogram, a study the criteria do not rate on its own); the variant's rating is still shown",
    )


class CodeTable(BaseModel):
    model_config = _STRICT
    version: str
    codes: dict[str, CodeInfo]

    def code_for(self, region: Region, procedure: str) -> str | None:
        return next((c for c, i in self.codes.items() if i.region == region and i.procedure == procedure), None)


class RecentCare(BaseModel):
    """At least ``weeks`` of documented conservative care inside the ``within_weeks`` before the note date."""

    model_config = _STRICT
    weeks: float = Field(ge=0)
    within_weeks: float = Field(gt=0)


class CareRule(BaseModel):
    """Weeks of documented conservative care, with the criteria set's counting rules.

    ``modalities``: only these modality names count (lexicon keys such as ``physical_therapy``);
    ``within_weeks``: only treatment inside that window before the note date counts;
    ``undated: exclude``: a course with neither a start nor an end date does not count ("Undated
    treatment cannot be counted toward the 6 weeks"); ``count`` keeps it in full.
    """

    model_config = _STRICT
    weeks: float = Field(ge=0)
    within_weeks: float | None = Field(default=None, gt=0)
    modalities: list[str] | None = None
    undated: Literal["count", "exclude"] = "count"


class Reevaluation(BaseModel):
    """A re-evaluation as its own contact: a dated contact (visit, telehealth, phone call, portal message)
    at least ``after_weeks`` after the first evaluation. "Seen 08/01, PT 6 weeks, re-seen 09/14" meets
    ``{after_weeks: 6}``; one visit whose note says "no better after PT" does not (it is one contact)."""

    model_config = _STRICT
    after_weeks: float = Field(default=0, ge=0)


class Condition(BaseModel):
    """A test over ClinicalFacts (and the request's dated documents). Exactly one key is set.

    Examples: ``{red_flag: cauda_equina}``; ``{fact: radiculopathy}`` (in the code's region);
    ``{conservative_care_weeks: 6}``; ``{recent_conservative_care: {weeks: 6, within_weeks: 12}}``;
    ``{prior_surgery: same_region}``; ``{criterion: candidacy}``;
    ``{in_person_evaluation: true}`` (an in-person visit whose note holds a neurologic examination: strength,
    reflexes, sensation or a straight-leg raise; a telehealth visit does not count);
    ``{reevaluation: {after_weeks: 6}}`` (see ``Reevaluation``);
    ``{surgery_within_weeks: 6}`` (surgery at this region at most 6 weeks before the request: the early
    post-operative window; "L4-5 discectomy 3 weeks ago" meets it, "fusion in 2019" does not);
    ``{prior_imaging_within_weeks: 26}`` (a study of the spine at most 26 weeks before the request:
    "MRI 2 months ago" meets it; "MRI in 2021" does not; an undated study is not documented);
    ``{same_sentence: [{red_flag: fracture}, {fact: prior_imaging}]}`` (each part met, with evidence from one
    sentence: "thoracic x-rays show a T8 compression fracture" meets it; "fell yesterday. X-rays in 2019
    were normal." does not);
    ``{always: met}`` / ``{always: not_met}`` (a constant: a version of a set that does not apply a
    criterion its topics define replaces it with one, e.g. a requirement an earlier version did not check);
    ``{all: [...]}``, ``{any: [...]}``, ``{not: {...}}``.
    """

    model_config = _STRICT
    all_: list[Condition] | None = Field(default=None, alias="all")
    any_: list[Condition] | None = Field(default=None, alias="any")
    not_: Condition | None = Field(default=None, alias="not")
    red_flag: str | None = Field(default=None, description="a red-flag id, or 'any' (bearing on the region)")
    fact: str | None = None
    conservative_care_weeks: float | None = Field(default=None, ge=0)
    recent_conservative_care: RecentCare | None = None
    care: CareRule | None = None
    symptom_weeks_min: float | None = Field(default=None, ge=0)
    symptom_weeks_max: float | None = Field(default=None, ge=0)
    prior_surgery: Literal["same_region", "other_region"] | None = None
    criterion: str | None = None
    age_min: int | None = None
    in_person_evaluation: Literal[True] | None = None
    reevaluation: Reevaluation | None = None
    surgery_within_weeks: float | None = Field(default=None, gt=0)
    prior_imaging_within_weeks: float | None = Field(default=None, gt=0)
    same_sentence: list[Condition] | None = Field(default=None, min_length=2)
    always: Literal["met", "not_met"] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        set_keys = [k for k, v in self.__dict__.items() if v is not None]
        if len(set_keys) != 1:
            raise ValueError(f"a condition needs exactly one key, got {len(set_keys)}: {set_keys}")
        if self.red_flag is not None and self.red_flag not in (*RED_FLAG_IDS, "any"):
            raise ValueError(f"unknown red flag {self.red_flag!r}")
        if self.fact is not None and self.fact not in FACT_NAMES:
            raise ValueError(f"unknown fact {self.fact!r}; known: {', '.join(FACT_NAMES)}")
        return self


class FlagGrade(BaseModel):
    """A red flag that counts under a topic only up to a muscle-strength grade ("new weakness graded 3/5 or
    worse"). A mention of the flag whose words (the reader's matched term) name one of ``graded``, in a
    sentence that grades strength only above ``motor_grade_max`` (4-/5, 4+/5; a "+" or "-" moves the grade a
    third of a step), does not count, unless that sentence also holds one of ``always``. Examples with
    ``{motor_grade_max: 3, graded: [new], always: [foot drop, bilateral]}``: "new left ankle weakness,
    graded 4+/5" does not count; "new left ankle weakness 3/5", an ungraded "new left ankle weakness" and
    "new bilateral leg weakness 4/5" do. Words match whole, case-insensitively."""

    model_config = _STRICT
    motor_grade_max: int = Field(ge=0, le=5)
    graded: list[str] = Field(min_length=1, description="words of a mention the grade limit applies to")
    always: list[str] = Field(default_factory=list, description="words that make the sentence count whatever the grade")


class Cite(BaseModel):
    """A verbatim quote from a guideline document; resolved to a chunk id when the KB loads."""

    model_config = _STRICT
    quote: str = Field(min_length=10)
    document: str | None = Field(default=None, description="defaults to the criteria file's document")


class Criterion(BaseModel):
    """One checklist item shown for every code of a topic."""

    model_config = _STRICT
    id: str
    label: str
    when: Condition
    departure: str | None = Field(default=None, description="departure id, shown when this criterion decides")
    role: Literal["required", "supporting", "info"] = Field(
        default="required",
        description="required: approval needs it; supporting: listed as missing but does not block; info: shown only",
    )
    missing: str | None = Field(default=None, description="documentation that would satisfy it, in a reviewer's words")
    cite: Cite | None = None

    @model_validator(mode="after")
    def _missing_text(self) -> Criterion:
        if self.role != "info" and not self.missing:
            raise ValueError(f"criterion {self.id!r} with role {self.role!r} needs a 'missing' text")
        return self


class PolicyGate(BaseModel):
    """A criteria set's own requirement on top of the source's variant (a deliberate departure).

    The variant (and its rating) stays the one the source assigns; when ``when`` is not met, a
    study in ``procedures`` is denied and the determination names the departure as the reason.
    Example: ACR rates MRI usually appropriate for new cervical radiculopathy with no waiting
    period; the default set asks for 6 weeks of documented care first.
    """

    model_config = _STRICT
    when: Condition
    procedures: list[ProcedureKind] = Field(min_length=1)
    departure: str = Field(description="id of the topic departure that explains the requirement")


class Departure(BaseModel):
    """A deliberate difference between the criteria and the source text, shown when it decides."""

    model_config = _STRICT
    id: str
    summary: str = Field(min_length=20, description="what differs from the source and why, in a reviewer's words")
    procedures: list[ProcedureKind] | None = Field(
        default=None, description="shown only when one of these studies is requested (default: any)"
    )


class Variant(BaseModel):
    model_config = _STRICT
    id: str
    number: int | None = None
    rated_as: int | None = Field(
        default=None, description="the source variant whose ratings this one borrows (a departure must say why)"
    )
    policy: PolicyGate | None = None
    with_red_flags: bool = Field(
        default=False,
        description="a pathway that still competes when a red-flag variant applies (prior surgery at the region: "
        "'a patient with prior lumbar surgery and fever fits both Variant 5 and Variant 7')",
    )
    departures: list[str] = Field(default_factory=list, description="departure ids shown whenever this variant decides")
    title: str
    kind: Literal["red_flag", "pathway", "default"]
    when: Condition | None = None
    ratings: dict[ProcedureKind, Rating]
    cite: Cite
    mba_decision: Decision | None = Field(
        default=None, description="overrides the policy for 'may be appropriate' studies in this scenario"
    )

    @model_validator(mode="after")
    def _default_has_no_condition(self) -> Variant:
        if (self.kind == "default") != (self.when is None):
            raise ValueError("a 'default' variant has no 'when'; every other variant needs one")
        return self


class Topic(BaseModel):
    model_config = _STRICT
    id: str
    title: str
    version: str
    regions: list[Region] = Field(min_length=1)
    red_flags: list[str] = Field(description="red-flag ids that bear on this topic's region(s)")
    red_flag_scope: dict[str, Literal["symptom_region"]] = Field(
        default_factory=dict,
        description="flags the reader did not place in a region bear on this topic's region only when the "
        "documented symptoms are there ('symptom_region'): infection with low back pain does not decide a "
        "cervical study; with no symptom region documented the flag bears on every region (the safe reading)",
    )
    red_flag_grades: dict[str, FlagGrade] = Field(
        default_factory=dict,
        description="flags that count under this topic only up to a muscle-strength grade (see FlagGrade)",
    )
    only_when: Condition | None = Field(default=None, description="topic applies only if this holds")
    only_when_reason: str = Field(default="", description="why a request outside only_when is referred")
    departures: list[Departure] = Field(default_factory=list)
    criteria: list[Criterion]
    approval_pathway: str = Field(description="variant whose criteria a request without red flags must meet")
    variants: list[Variant] = Field(min_length=1)
    document: str = ""
    source: str = Field(default="", description="the criteria file this topic was loaded from")

    @model_validator(mode="after")
    def _consistent(self) -> Topic:
        unknown = [f for f in self.red_flags if f not in RED_FLAG_IDS]
        if unknown:
            raise ValueError(f"unknown red flag(s) {unknown}")
        unscoped = [f for f in self.red_flag_scope if f not in self.red_flags]
        if unscoped:
            raise ValueError(f"red_flag_scope names flag(s) {unscoped} that are not in this topic's red_flags")
        ungraded = [f for f in self.red_flag_grades if f not in self.red_flags]
        if ungraded:
            raise ValueError(f"red_flag_grades names flag(s) {ungraded} that are not in this topic's red_flags")
        variant_ids = [v.id for v in self.variants]
        if self.approval_pathway not in variant_ids:
            raise ValueError(f"approval_pathway {self.approval_pathway!r} is not one of the variants {variant_ids}")
        criterion_ids = {c.id for c in self.criteria}
        gates: list[Condition | None] = [v.policy.when for v in self.variants if v.policy]
        for ref in _criterion_refs([v.when for v in self.variants] + [c.when for c in self.criteria] + gates):
            if ref not in criterion_ids:
                raise ValueError(f"condition refers to unknown criterion {ref!r}")
        departure_ids = {d.id for d in self.departures}
        used = [d for v in self.variants for d in v.departures] + [v.policy.departure for v in self.variants if v.policy]
        used += [c.departure for c in self.criteria if c.departure]
        unknown_departures = sorted(set(used) - departure_ids)
        if unknown_departures:
            raise ValueError(f"unknown departure(s) {unknown_departures}; declare them under 'departures'")
        return self

    def departure(self, departure_id: str) -> Departure:
        return next(d for d in self.departures if d.id == departure_id)

    def criterion(self, criterion_id: str) -> Criterion:
        return next(c for c in self.criteria if c.id == criterion_id)

    def variant(self, variant_id: str) -> Variant:
        return next(v for v in self.variants if v.id == variant_id)


def _criterion_refs(conditions: list[Condition | None]) -> list[str]:
    refs: list[str] = []
    for cond in conditions:
        if cond is None:
            continue
        if cond.criterion:
            refs.append(cond.criterion)
        refs += _criterion_refs([*(cond.all_ or []), *(cond.any_ or []), *(cond.same_sentence or []), cond.not_])
    return refs


class CriteriaFile(BaseModel):
    model_config = _STRICT
    document: str
    topics: list[Topic]


class PolicyVersion(BaseModel):
    """One version of a criteria set and the dates it is in force (both days included).

    A version may name its own topics and replace criteria by id in every topic it uses: version 2025.1
    of a plan set can require candidacy where 2026.1 does not, with one ``criteria`` entry.
    """

    model_config = _STRICT
    version: str
    effective_from: date
    effective_to: date | None = Field(default=None, description="last day in force; none: until a later version")
    summary: str = Field(default="", description="what this version changes, in a reviewer's words")
    topics: list[str] | None = Field(default=None, min_length=1, description="default: the set's topics")
    criteria: list[Criterion] = Field(default_factory=list, description="criteria replacing the topics' own, by id")

    @model_validator(mode="after")
    def _dates(self) -> PolicyVersion:
        if self.effective_to is not None and self.effective_to < self.effective_from:
            raise ValueError(f"version {self.version}: effective_to {self.effective_to} is before effective_from")
        return self

    def in_force(self, on: date) -> bool:
        return self.effective_from <= on and (self.effective_to is None or on <= self.effective_to)


class Policy(BaseModel):
    """A criteria set: versioned, effective-dated, selectable per request or plan.

    Either one version (``version`` and ``effective``, in force from that day on) or ``versions``.
    A loaded ``CriteriaSet`` carries the one version in force, with ``version``, ``effective`` and
    ``effective_to`` filled from it.
    """

    model_config = _STRICT
    id: str
    title: str
    version: str = ""
    effective: date | None = None
    effective_to: date | None = None
    versions: list[PolicyVersion] = Field(default_factory=list)
    description: str = ""
    topics: list[str] = Field(min_length=1)
    rating_decisions: dict[Rating, Decision]
    mba_with_usual_alternative: Decision = Field(
        default=Decision.refer,
        description="decision for a 'may be appropriate' study when a 'usually appropriate' one fits the same variant",
    )

    @model_validator(mode="after")
    def _one_way_of_versioning(self) -> Policy:
        resolved = any(v.version == self.version and v.effective_from == self.effective for v in self.versions)
        if self.versions and (self.version or self.effective) and not resolved:
            raise ValueError("give either version and effective (one version) or versions, not both")
        if not self.versions:
            if not self.version or self.effective is None:
                raise ValueError("a criteria set needs version and effective, or a list of versions")
            self.versions = [PolicyVersion(version=self.version, effective_from=self.effective, effective_to=self.effective_to)]
        ordered = sorted(self.versions, key=lambda v: v.effective_from)
        for before, after in itertools.pairwise(ordered):
            if before.effective_to is None or before.effective_to >= after.effective_from:
                raise ValueError(
                    f"versions {before.version} and {after.version} overlap: give {before.version} an effective_to "
                    f"before {after.effective_from}"
                )
        if len({v.version for v in self.versions}) != len(self.versions):
            raise ValueError("two versions share a version name")
        self.versions = ordered
        return self

    def version_on(self, on: date) -> PolicyVersion:
        """The version in force on ``on``; ``NoCriteriaInForce`` when there is none (never another version)."""
        found = next((v for v in self.versions if v.in_force(on)), None)
        if found is None:
            spans = ", ".join(f"{v.version} {v.effective_from}..{v.effective_to or 'open'}" for v in self.versions)
            raise NoCriteriaInForce(self.id, on.isoformat(), spans)
        return found


class CriteriaSet(BaseModel):
    """A policy with its topics and the code table, ready for the engine."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    policy: Policy
    topics: list[Topic]
    codes: CodeTable

    def topics_for(self, region: Region) -> list[Topic]:
        return [t for t in self.topics if region in t.regions]


def _load_yaml(path: Path) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise CriteriaFileError(path, "", f"invalid YAML{f' at line {mark.line + 1}' if mark else ''}") from None


def _validate(model: type[_M], path: Path) -> _M:
    try:
        return model.model_validate(_load_yaml(path))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise CriteriaFileError(path, loc, err["msg"]) from None


def load_code_table(directory: Path) -> CodeTable:
    return _validate(CodeTable, directory / "codes.yaml")


def load_topics(directory: Path) -> dict[str, Topic]:
    topics: dict[str, Topic] = {}
    for path in sorted(directory.glob("*.criteria.yaml")):
        parsed = _validate(CriteriaFile, path)
        for topic in parsed.topics:
            if topic.id in topics:
                raise CriteriaFileError(path, "topics", f"duplicate topic id {topic.id!r}")
            topics[topic.id] = topic.model_copy(update={"document": parsed.document, "source": str(path)})
    return topics


def load_policies(directory: Path) -> dict[str, Policy]:
    return {p.id: p for p in (_validate(Policy, path) for path in sorted(directory.glob("*.policy.yaml")))}


def load_criteria_set(
    directories: list[Path], policy_id: str, on: date | None = None, *, version: str | None = None
) -> CriteriaSet:
    """Load one policy with its topics from the guideline directories (built-in first): the version in
    force on ``on`` (default today), or the version named ``version``."""
    topics: dict[str, Topic] = {}
    policies: dict[str, Policy] = {}
    codes: CodeTable | None = None
    for directory in directories:
        topics.update(load_topics(directory))
        policies.update(load_policies(directory))
        if (directory / "codes.yaml").exists():
            table = load_code_table(directory)
            codes = table if codes is None else CodeTable(version=codes.version, codes={**codes.codes, **table.codes})
    if codes is None:
        raise CriteriaFileError(directories[0], "codes.yaml", "no code table found")
    if policy_id not in policies:
        raise CriteriaFileError(directories[0], "policy", f"unknown criteria set {policy_id!r}; known: {sorted(policies)}")
    policy = policies[policy_id]
    if version is not None:
        chosen = next((v for v in policy.versions if v.version == version), None)
        if chosen is None:
            known = [v.version for v in policy.versions]
            raise CriteriaFileError(directories[0], f"{policy_id}.versions", f"no version {version!r}; known: {known}")
    else:
        chosen = policy.version_on(on or date.today())
    return resolve_version(policy, chosen, topics, codes, directories[0])


def resolve_version(
    policy: Policy, chosen: PolicyVersion, topics: dict[str, Topic], codes: CodeTable, where: Path
) -> CriteriaSet:
    """The criteria set of one version: its topics, with the version's criteria replacing theirs by id."""
    names = chosen.topics or policy.topics
    missing = [t for t in names if t not in topics]
    if missing:
        raise CriteriaFileError(where, f"{policy.id}.topics", f"unknown topic(s) {missing}")
    replaced = {c.id: c for c in chosen.criteria}
    unused = set(replaced) - {c.id for t in names for c in topics[t].criteria}
    if unused:
        raise CriteriaFileError(
            where, f"{policy.id}.versions.{chosen.version}.criteria", f"criterion id(s) {sorted(unused)} are in no topic"
        )
    resolved = [
        topics[t].model_copy(update={"criteria": [replaced.get(c.id, c) for c in topics[t].criteria]}) if replaced else topics[t]
        for t in names
    ]
    header = policy.model_copy(
        update={"version": chosen.version, "effective": chosen.effective_from, "effective_to": chosen.effective_to}
    )
    return CriteriaSet(policy=header, topics=resolved, codes=codes)
