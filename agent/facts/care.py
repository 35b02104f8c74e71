"""Conservative care and prior surgery: the two facts that need durations and regions combined.

Conservative care is a timeline of courses (``CareEpisode``): a duration or date range in the same
sentence as a modality (or in a nearby sentence about the treatment, such as a PT "start of care"
line) is one course of that modality, dated by the document that states it and attributed to the
regions its sentence names. Weeks of care are the union of the courses on the calendar: sequential
courses add up ("naproxen for 3 weeks, then 3 weeks of PT" is 6), concurrent ones do not. Planned
therapy ("will start PT", "PT 2x/wk x 6 wks ordered") is not a course; frequencies and follow-up
intervals are not lengths (``data/timeline.yaml``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from agent.facts.context import Mention, Modifier
from agent.facts.durations import date_spans, dated_long_before, find_dates, timeline_vocabulary
from agent.facts.fills import Fill, FillTable, courses_of, find_fill_tables
from agent.facts.med_lists import MedTable, find_med_tables
from agent.facts.model import CareEpisode, ConservativeCare, Evidence, FactStatus, Modality, PriorSurgery, Region
from agent.facts.note import Note, rx
from agent.facts.textspans import Sentence

NEARBY = 2  # sentences after (and one before) a modality mention that may carry its dates
SEQUENCE_REACH = 200  # characters between two courses that a sequence word may join
_PLANNING = re.compile(
    r"(?:candidate|consider\w*|plan\w*|recommend\w*|discuss\w*|pending|scheduled|schedule|refer\w*|evaluat\w*|options?)\b[^.;]{0,40}$",
    re.IGNORECASE,
)


def conservative_care(note: Note, lex: dict[str, Any], onset: date | None = None) -> ConservativeCare:
    """The care timeline. ``onset``: when the symptoms under review began, where the note dates it; a
    course on the calendar that ended well before it treated an earlier episode and does not count."""
    context = rx(lex["care_context"])
    all_care = rx("|".join(p for ps in lex["conservative_care"].values() for p in ps))
    completed = timeline_vocabulary()["completed_words"]
    symptoms = rx("|".join(lex["symptoms"]))
    modalities: list[Modality] = []
    episodes: list[_Course] = []
    duration_evidence: list[Evidence] = []
    conflicts: list[tuple[Evidence, list[Region]]] = []  # with the regions each denial names
    logs, in_table = _logged_courses(note, lex)
    for name, patterns in lex["conservative_care"].items():
        mentions, denied, asserted = _care_mentions(note, name, patterns, lex, in_table)
        if not mentions:
            continue
        if not asserted:
            modalities += _denied_modality(note, name, mentions, denied)
            continue
        evidence = [note.evidence(m.start, m.end, m.sentence) for m in asserted]
        # Later text that denies a treatment claimed earlier (copy-forward goes the other way).
        first_claim = min(m.start for m in asserted)
        conflicts += [
            (note.evidence(m.start, m.end, m.sentence), regions_named(m.sentence.text, lex))
            for m in mentions
            if (Modifier.NEGATED in m.modifiers or m.start in denied)
            and m.start > first_claim
            and not _about_a_limb_joint(m.sentence.text, lex)
        ]
        own: dict[int, _Course] = {}
        for m in asserted:
            index = note.sentence_index(m.sentence)
            candidates = [(d, m.sentence) for d in note.durations(m.sentence)]
            if not candidates:
                around = note.sentences[max(0, index - 1) : index + NEARBY + 1]
                for sent in around:
                    if sent is m.sentence or not context.search(sent.text):
                        continue
                    if sent.start < m.sentence.start and symptoms.search(sent.text):
                        continue  # "pain since June, worse despite treatment": how long it hurts, not a course
                    if all_care.search(sent.text) and sent is not m.sentence and _other_modality(sent.text, patterns, all_care):
                        continue
                    candidates += [(d, sent) for d in note.durations(sent)]
            candidates = [(d, sent) for d, sent in candidates if not d.prescribed or completed.search(sent.text)]
            candidates = [(d, sent) for d, sent in candidates if not _symptom_length(note, d, lex)]
            if not candidates:
                continue
            d, sent = min(candidates, key=lambda c: abs(c[0].start - m.start))
            # "10 weeks of PT from 01/05 to 03/16": the dates of the course are in a sibling mention
            dated = d if d.end_date else next((c for c, at in candidates if at is sent and c.end_date), None)
            if d.start in own:
                continue
            started, ended, weeks = (
                (dated.start_date, dated.end_date, d.weeks)
                if dated
                else _from_document(note, d, sent) or (None, note.written_on(d.start) or note.note_date, d.weeks)
            )
            own[d.start] = _Course(
                at=d.start,
                episode=CareEpisode(
                    modality=name,
                    weeks=round(weeks, 1),
                    started=started,
                    ended=ended,
                    dated=dated is not None,
                    regions=regions_named(m.sentence.text, lex),
                    document_date=note.written_on(d.start),
                    evidence=[note.evidence(m.start, m.end, m.sentence), note.evidence(d.start, d.end, sent)],
                ),
            )
            duration_evidence.append(note.evidence(d.start, d.end, sent))
        courses = _longest_undated(list(own.values()))
        courses += [c for c in (_continued(note, name, asserted, lex), *logs.pop(name, [])) if c is not None]
        courses = _this_episode(courses, onset, lex)
        episodes += courses
        modalities.append(_modality(name, evidence, [c.episode for c in courses]))
    for name, logged in logs.items():  # a visit log of a modality named only in its document's title
        if not (logged := _this_episode(logged, onset, lex)):
            continue
        episodes += logged
        modalities.append(_modality(name, [e for c in logged for e in c.episode.evidence][:1], [c.episode for c in logged]))
    timeline = _in_sequence(note, sorted(episodes, key=lambda c: c.at))
    unique_conflicts = list({(e.start, e.end): (e, regions) for e, regions in conflicts}.values())[:4]
    care = ConservativeCare(
        modalities=modalities,
        episodes=timeline,
        duration_evidence=list({(e.start, e.end): e for e in duration_evidence}.values())[:4],
        conflicts=[e for e, _ in unique_conflicts],
        conflict_regions=[regions for _, regions in unique_conflicts],
    )
    present = [m for m in modalities if m.status == FactStatus.present]
    care.status = FactStatus.present if present else FactStatus.absent if modalities else FactStatus.not_documented
    care.total_weeks = care.weeks_for()
    for modality in present:  # a modality's weeks: the union of its own courses (after sequencing)
        modality.weeks = care.weeks_for(modalities=[modality.name])
    return care


@dataclass
class _Course:
    at: int  # offset of the words giving its length
    episode: CareEpisode


def _continued(note: Note, name: str, asserted: list[Mention], lex: dict[str, Any]) -> _Course | None:
    """A course said to continue in a later document ran at least from the first dated document
    that names it: PCP 10/02 "already seeing a physical therapist", PCP 11/11 "has been going to PT"."""
    ongoing = timeline_vocabulary()["ongoing_words"]
    dated = [(when, m) for m in asserted if (when := note.written_on(m.start)) is not None]
    if len(dated) < 2:
        return None
    first_date, first = min(dated, key=lambda item: item[0])
    later = [(when, m) for when, m in dated if when > first_date and ongoing.search(m.sentence.text)]
    if not later:
        return None
    last_date, last = max(later, key=lambda item: item[0])
    episode = CareEpisode(
        modality=name,
        weeks=round((last_date - first_date).days / 7, 1),
        started=first_date,
        ended=last_date,
        dated=True,
        regions=regions_named(first.sentence.text, lex),
        document_date=last_date,
        evidence=[note.evidence(first.start, first.end, first.sentence), note.evidence(last.start, last.end, last.sentence)],
    )
    return _Course(at=last.start, episode=episode)


_TITLE_LOOKBACK = 3  # dated headers searched back from a visit log for the modality its document names


def _from_document(note: Note, d: Any, sent: Sentence) -> tuple[date, date, float] | None:
    """ "Rx: naproxen 500 mg BID x 30 days" in a document dated 02/09: a course given that day runs
    forward from it (to the note date at most), not back from it. None for any other length."""
    written = note.written_on(d.start)
    if d.kind != "length" or written is None or note.note_date is None or written >= note.note_date:
        return None
    before = note.text[sent.start : d.start]
    if not timeline_vocabulary()["given_from_document"].search(before):
        return None
    ended = min(written + timedelta(days=round(d.weeks * 7)), note.note_date)
    return written, ended, (ended - written).days / 7


def _symptom_length(note: Note, d: Any, lex: dict[str, Any]) -> bool:
    """ "About 7 weeks of symptoms", "Symptoms since 01/28", "pain x 3 wks": how long it has hurt,
    not how long it was treated (``symptom_length`` in the lexicon)."""
    spec = lex["symptom_length"]
    before = note.text[max(0, d.start - 30) : d.start]
    after = note.text[d.end : d.end + 30]
    return bool(rx(spec["before"]).search(before) or rx(spec["after"]).match(after))


def _denied_modality(note: Note, name: str, mentions: list[Mention], denied: set[int]) -> list[Modality]:
    """A modality the note only denies ("no PT"), as an absent one; [] when it is only planned."""
    if not any(m.modifiers & {Modifier.NEGATED} or m.start in denied for m in mentions):
        return []
    evidence = [note.evidence(m.start, m.end, m.sentence) for m in mentions]
    return [Modality(name=name, status=FactStatus.absent, evidence=evidence[:2])]


def _care_mentions(
    note: Note, name: str, patterns: list[str], lex: dict[str, Any], in_table: list[tuple[int, int]]
) -> tuple[list[Mention], set[int], list[Mention]]:
    """One modality's mentions (a fill table is read row by row instead, an occasional dose is no
    course), the starts of those a denial governs, and those asserted as this episode's care."""
    mentions = [m for m in note.mentions(f"care:{name}", patterns) if not _inside(m.start, in_table)]
    denial = lex.get("care_denied", {}).get("medications" if name in lex.get("medications", []) else name)
    denied = {m.start for m in mentions if denial and rx("|".join(denial)).search(m.sentence.text)}
    occasional = {m.start for m in mentions if rx(lex["care_occasional"]).search(m.sentence.text)}
    mentions = [m for m in mentions if m.start not in occasional]  # "an Advil now and then" is no course
    asserted = [m for m in mentions if m.asserted and m.start not in denied and not _past_episode(note, m, lex)]
    return mentions, denied, asserted


def _logged_courses(note: Note, lex: dict[str, Any]) -> tuple[dict[str, list[_Course]], list[tuple[int, int]]]:
    """Courses from visit logs and pharmacy fill tables, by modality, and where the fill tables are."""
    tables = find_fill_tables(note.text, note.note_date)
    med_lists = find_med_tables(note.text, note.note_date)
    in_table = [(t.start, t.end) for t in tables] + [(r.start, r.end) for t in med_lists for r in t.rows]
    logs = _visit_logs(note, lex, in_table)
    for name, filled in _fill_courses(note, tables, lex).items():
        logs.setdefault(name, []).extend(filled)
    for name, listed in _listed_courses(note, med_lists, lex).items():
        logs.setdefault(name, []).extend(listed)
    return logs, in_table


def _listed_courses(note: Note, tables: list[MedTable], lex: dict[str, Any]) -> dict[str, list[_Course]]:
    """Courses read from medication lists with start and stop columns (``agent.facts.med_lists``): a
    row runs from its start to its stop, or to the date of the document holding the list."""
    found: dict[str, list[_Course]] = {}
    occasional = rx(lex["care_occasional"])
    for table in tables:
        written = note.written_on(table.start) or note.note_date
        for row in table.rows:
            name = _modality_named(row.drug, lex)
            text = note.text[row.start : row.end]
            if name is None or occasional.search(text):
                continue
            last = row.stopped or written
            if last is None or last < row.started:
                continue
            episode = CareEpisode(
                modality=name,
                weeks=round((last - row.started).days / 7, 1),
                started=row.started,
                ended=last,
                dated=True,
                document_date=written,
                evidence=[Evidence(quote=text, start=row.start, end=row.end, term=row.drug)],
            )
            found.setdefault(name, []).append(_Course(at=row.start, episode=episode))
    return found


def _this_episode(courses: list[_Course], onset: date | None, lex: dict[str, Any]) -> list[_Course]:
    """Courses that can have treated the symptoms under review: not ended ``earlier_episode_days`` or
    more before they began (a muscle relaxant filled for a back strain months before the arm pain). A
    course long ago in a pain that never stopped still counts, so the note's age alone decides nothing."""
    if onset is None:
        return courses
    cutoff = onset - timedelta(days=lex["earlier_episode_days"])
    kept = []
    for course in courses:
        span = course.episode.interval() if course.episode.placed else None
        if span is None or span[1] >= cutoff:
            kept.append(course)
    return kept


def _inside(pos: int, spans: list[tuple[int, int]]) -> bool:
    return any(start <= pos < end for start, end in spans)


def _fill_courses(note: Note, tables: list[FillTable], lex: dict[str, Any]) -> dict[str, list[_Course]]:
    """Courses read from pharmacy fill tables: per modality, from the first fill to the end of the last
    supply, a refill long after the supply ran out starting a new course (``agent.facts.fills``)."""
    found: dict[str, list[_Course]] = {}
    for table in tables:
        # the supply runs at most to the date of the document holding the table (or a later fill in it)
        written = note.written_on(table.start) or note.note_date
        until = max([written, *(f.filled for f in table.fills)]) if written is not None else None
        by_modality: dict[str, list[Fill]] = {}
        for fill in table.fills:
            name = _modality_named(fill.drug, lex)
            if name is not None:
                by_modality.setdefault(name, []).append(fill)
        for name, fills in by_modality.items():
            for first, last, rows in courses_of(fills, until):
                evidence = [Evidence(quote=note.text[r.start : r.end], start=r.start, end=r.end, term=r.drug) for r in rows[:3]]
                episode = CareEpisode(
                    modality=name,
                    weeks=round(((last - first).days + 1) / 7, 1),
                    started=first,
                    ended=last,
                    dated=True,
                    document_date=until,
                    evidence=evidence,
                )
                found.setdefault(name, []).append(_Course(at=rows[0].start, episode=episode))
    return found


def _visit_logs(note: Note, lex: dict[str, Any], skip: list[tuple[int, int]]) -> dict[str, list[_Course]]:
    """Courses read from visit logs: a sentence listing three or more dates with a visit word runs
    from the first date to the last, for the modality it names or its document's title names."""
    visits = timeline_vocabulary()["visit_words"]
    found: dict[str, list[_Course]] = {}
    for sentence in note.sentences:
        if not visits.search(sentence.text) or note.is_instruction(sentence):
            continue
        if any(sentence.start < end and start < sentence.end for start, end in skip):
            continue  # a fill table: _fill_courses reads it by row
        body = _after_header(note, sentence)
        when = note.written_on(body) or note.note_date  # the date of a header the sentence runs into
        dates = sorted({d for _, d in find_dates(note.text[body : sentence.end], note_date=when)})
        if len(dates) < 3:
            continue
        name = _modality_named(sentence.text, lex) or _titled_modality(note, sentence.start, lex)
        if name is None:
            continue
        episode = CareEpisode(
            modality=name,
            weeks=round((dates[-1] - dates[0]).days / 7, 1),
            started=dates[0],
            ended=dates[-1],
            dated=True,
            regions=regions_named(sentence.text, lex),
            document_date=when,
            evidence=[note.evidence(sentence.start, sentence.end, sentence)],
        )
        found.setdefault(name, []).append(_Course(at=sentence.start, episode=episode))
    return found


def _after_header(note: Note, sentence: Sentence) -> int:
    """Where the sentence's own words start: after a dated header line it runs into."""
    inside = [start for start, _ in note.sections if sentence.start <= start < sentence.end]
    if not inside:
        return sentence.start
    line_end = note.text.find("\n", inside[-1])
    return line_end + 1 if 0 <= line_end < sentence.end else sentence.start


def _about_a_limb_joint(text: str, lex: dict[str, Any]) -> bool:
    """The sentence is about a joint outside the spine and names no spine region ("Has not had knee
    PT", "her home PT in 2007 was knee rehabilitation after the TKA"): it says nothing of spine care."""
    return bool(rx(lex["limb_joint_care"]).search(text)) and not regions_named(text, lex)


def _modality_named(text: str, lex: dict[str, Any]) -> str | None:
    for name, patterns in lex["conservative_care"].items():
        if name != "unspecified" and rx("|".join(patterns)).search(text):
            return name
    return None


def _titled_modality(note: Note, pos: int, lex: dict[str, Any]) -> str | None:
    """The modality named in the header lines of the dated sections before ``pos`` (nearest first)."""
    headers = [start for start, _ in note.sections if start <= pos][-_TITLE_LOOKBACK:]
    for start in reversed(headers):
        line_end = note.text.find("\n", start)
        name = _modality_named(note.text[start : line_end if line_end >= 0 else len(note.text)], lex)
        if name is not None:
            return name
    return None


def _longest_undated(courses: list[_Course]) -> list[_Course]:
    """One modality's courses: every dated course, and of those placed only by their length, the
    longest (the same course is often restated in later documents: "6 weeks of PT")."""
    dated = [c for c in courses if c.episode.dated]
    undated = [c for c in courses if not c.episode.dated]
    return sorted(dated + ([max(undated, key=lambda c: c.episode.weeks)] if undated else []), key=lambda c: c.at)


def _in_sequence(note: Note, courses: list[_Course]) -> list[CareEpisode]:
    """Place courses that a sequence word puts one after another ("naproxen for 3 weeks, then 3
    weeks of PT"): the earlier course ends where the later one starts. Only courses placed by their
    length move; dated courses keep their dates."""
    sequence = timeline_vocabulary()["sequence"]
    for later, earlier in zip(reversed(courses), list(reversed(courses))[1:], strict=False):
        between = note.text[earlier.at : later.at]
        if (
            earlier.episode.dated
            or (later.episode.started is None and later.episode.ended is None)
            or len(between) > SEQUENCE_REACH
            or note.written_on(earlier.at) != note.written_on(later.at)
            or not sequence.search(between)
        ):
            continue
        start = later.episode.interval()
        if start is None:
            continue
        earlier.episode.ended = start[0]
        earlier.episode.started = start[0] - timedelta(days=round(earlier.episode.weeks * 7))
        earlier.episode.chained = later.episode.chained = True
    return [c.episode for c in courses]


def _past_episode(note: Note, m: Mention, lex: dict[str, Any]) -> bool:
    """ "A similar arm episode in 2023 settled with 6 weeks of PT": a course its clause (between
    semicolons) dates, year written, a year or more before the note belongs to an earlier episode."""
    text, at = m.sentence.text, m.start - m.sentence.start
    clause = text[text.rfind(";", 0, at) + 1 : (text.find(";", at) + 1 or len(text) + 1) - 1]  # its own clause
    if not rx(lex["past_episode_words"]).search(clause):
        return False  # "PT 03/2025-05/2025" in a pain that never stopped is this episode's care
    return dated_long_before(clause, note.note_date, lex["past_episode_days"], year_written=True)


def _modality(name: str, evidence: list[Evidence], courses: list[CareEpisode]) -> Modality:
    placed = [c for c in courses if c.dated]
    return Modality(
        name=name,
        status=FactStatus.present,
        weeks=max((c.weeks for c in courses), default=None),
        evidence=evidence[:3],
        started=min((c.started for c in placed if c.started), default=None),
        ended=max((c.ended for c in courses if c.ended and (c.dated or c.document_date)), default=None),
    )


def regions_named(text: str, lex: dict[str, Any]) -> list[Region]:
    """The spine regions a sentence names ("12 weeks of PT for his low back")."""
    return [Region(region) for region, patterns in lex["symptom_regions"].items() if rx("|".join(patterns)).search(text)]


def _other_modality(text: str, own: list[str], all_care: re.Pattern[str]) -> bool:
    """True when the sentence names a different modality (its dates belong to that one)."""
    own_rx = re.compile("|".join(own), re.IGNORECASE)
    return any(not own_rx.search(m.group(0)) for m in all_care.finditer(text))


def _round(weeks: float | None) -> float | None:
    return None if weeks is None else round(weeks, 1)


def prior_surgeries(note: Note, lex: dict[str, Any]) -> list[PriorSurgery]:
    found: list[PriorSurgery] = []
    unspecified: list[PriorSurgery] = []
    named = rx("|".join(p for patterns in lex["surgery_regions"].values() for p in patterns))
    for m in note.mentions("prior_surgery", lex["prior_surgery"]):
        # an operation is history by nature: "a C5-6 ACDF for C6 radiculopathy, which resolved" still counts
        if m.modifiers & {Modifier.NEGATED, Modifier.FAMILY, Modifier.HYPOTHETICAL}:
            continue
        if _SIGNATURE.search(note.text[max(m.sentence.start, m.start - 20) : m.start]):
            continue  # "R. Takahashi, MD, Spine Surgery": a department in a signature
        before = note.text[max(m.sentence.start, m.start - 60) : m.start]
        if _PLANNING.search(before):
            continue  # "candidate for lumbar fusion" is a plan, not a history
        region = _surgery_region(note, m.start, m.end, m.sentence, lex, rx)
        weeks_ago = _dated_surgery(note, m, lex["surgery_date"])
        for d in note.durations(m.sentence) if weeks_ago is None else []:
            tail = note.text[d.end : d.end + 12].lower()
            if d.kind == "ago" or "after" in tail or "post" in tail:
                weeks_ago = round(d.weeks, 1)
        surgery = PriorSurgery(region=region, evidence=note.evidence(m.start, m.end, m.sentence), weeks_ago=weeks_ago)
        found.append(surgery)
        if _GENERIC_SURGERY.fullmatch(m.text) and not named.search(note.text[max(m.sentence.start, m.start - 25) : m.start]):
            unspecified.append(surgery)
    # "Contrast given his prior spine surgery" in a sentence about C7: an unspecified spine surgery is
    # the operation the note specifies elsewhere ("L4-5 laminectomy 2012"), not one at whatever region
    # its sentence names. A region written right before it ("cervical spine surgery") keeps its own.
    specific = {s.region for s in found if s.region is not None and not any(s is u for u in unspecified)}
    if len(specific) == 1:
        for surgery in unspecified:
            surgery.region = next(iter(specific))
    return found


_SIGNATURE = re.compile(
    r"\b(?:MD|DO|PA-?C|NP|APRN|FNP|DPT|DC|RN)\s*,\s*$|\b(?:department|dept\.?|division|service)\s+of\s+$", re.IGNORECASE
)
_GENERIC_SURGERY = re.compile(r"(?:spine|spinal)\s+surgery", re.IGNORECASE)


def _dated_surgery(note: Note, m: Mention, spec: dict[str, str]) -> float | None:
    """Weeks from a date written with the operation ("ACDF on 10/19/2026", "10/19/2026: L5-S1
    microdiscectomy") to the note date; None when no date is written with it."""
    if note.note_date is None:
        return None
    sentence = m.sentence
    after, before = re.compile(spec["after"], re.IGNORECASE), re.compile(spec["before"], re.IGNORECASE)
    for start, end, when in date_spans(sentence.text, note_date=note.note_date, offset=sentence.start):
        if (start >= m.end and after.fullmatch(note.text[m.end : start])) or (
            end <= m.start and before.fullmatch(note.text[end : m.start])
        ):
            return round((note.note_date - when).days / 7, 1)
    return None


# "MRI lumbar", "MRI of the lumbar spine", "lumbar MRI": the region of an imaging order, not of a surgery.
_IMAGING_BEFORE = re.compile(r"(?:MRI|CT|XR|x-?rays?|radiographs?|films?|imaging|scan)\s+(?:of\s+)?(?:the\s+)?$", re.I)
_IMAGING_AFTER = re.compile(r"^\s*(?:spine\s+)?(?:MRI|CT|XR|x-?rays?|radiographs?|films?|imaging|scan)\b", re.I)


def _surgery_region(note: Note, start: int, end: int, sentence: Any, lex: dict[str, Any], rx: Any) -> Region | None:
    best: tuple[int, Region] | None = None
    for region, patterns in lex["surgery_regions"].items():
        for m in rx("|".join(patterns)).finditer(sentence.text):
            pos = sentence.start + m.start()
            inside = start <= pos < end
            if not inside and (
                _IMAGING_BEFORE.search(sentence.text[max(0, m.start() - 25) : m.start()])
                or _IMAGING_AFTER.search(sentence.text[m.end() : m.end() + 20])
            ):
                continue
            distance = 0 if inside else min(abs(pos - start), abs(pos - end))
            if best is None or distance < best[0]:
                best = (distance, Region(region))
    return best[1] if best else None
