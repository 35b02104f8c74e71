"""Durations: phrase -> weeks and kind, offsets, dates and note_date edge cases."""

from __future__ import annotations

from datetime import date

import pytest

from agent.facts.durations import DurationMention, find_durations, parse_date, section_dates

NOTE_DATE = date(2026, 9, 14)


def only(text: str, note_date: date | None = NOTE_DATE) -> DurationMention:
    found = find_durations(text, note_date=note_date)
    assert len(found) == 1, f"{text!r}: {found}"
    return found[0]


@pytest.mark.parametrize(
    ("phrase", "weeks", "kind"),
    [
        pytest.param("10 weeks", 10, "length", id="digits-weeks"),
        pytest.param("ten weeks", 10, "length", id="word-weeks"),
        pytest.param("6 wks", 6, "length", id="wks"),
        pytest.param("PT x6 weeks", 6, "length", id="x-attached"),
        pytest.param("PT x 6 wk", 6, "length", id="x-spaced-wk"),
        pytest.param("a six-week course", 6, "length", id="hyphenated-adjective"),
        pytest.param("3 months", 13.035, "length", id="months"),
        pytest.param("2 mos", 8.69, "length", id="mos"),
        pytest.param("1 year", 52.18, "length", id="year"),
        pytest.param("1.5 years", 78.27, "length", id="decimal-years"),
        pytest.param("10 days", 10 / 7, "length", id="days"),
        pytest.param("a 10-day course", 10 / 7, "length", id="hyphenated-days"),
        pytest.param("for a month", 4.345, "length", id="a-month"),
        pytest.param("6+ weeks", 6, "length", id="plus"),
        pytest.param("over 8 weeks", 8, "length", id="over"),
        pytest.param("for the past 2 months", 8.69, "length", id="past-months"),
        pytest.param("8 sessions over 6 weeks", 6, "length", id="sessions-over-weeks"),
        pytest.param("3-4 weeks", 3, "length", id="quantity-range-lower-bound"),
        pytest.param("since 2026-08-01", 44 / 7, "since", id="since-iso"),
        pytest.param("since around 08/01/2026", 44 / 7, "since", id="since-around-a-date"),
        pytest.param("since about the New Year", 256 / 7, "since", id="since-the-new-year"),
        pytest.param("since 08/01/2026", 44 / 7, "since", id="since-us-full"),
        pytest.param("since 8/1/26", 44 / 7, "since", id="since-us-two-digit-year"),
        pytest.param("since 8/1", 44 / 7, "since", id="since-month-day"),
        pytest.param("since August", 44 / 7, "since", id="since-month"),
        pytest.param("since early August", 40 / 7, "since", id="since-early-month"),
        pytest.param("since mid-August", 30 / 7, "since", id="since-mid-month"),
        pytest.param("since late August", 20 / 7, "since", id="since-late-month"),
        pytest.param("since August 3", 6, "since", id="since-month-name-day"),
        pytest.param("since Aug. 3rd, 2026", 6, "since", id="since-abbrev-ordinal-year"),
        pytest.param("ongoing since 7/1", 75 / 7, "since", id="ongoing-since"),
        pytest.param("since yesterday", 1 / 7, "since", id="since-yesterday"),
        pytest.param("began in July", 75 / 7, "since", id="began-in"),
        pytest.param("started meloxicam on 2026-07-20", 8, "since", id="started-drug-on"),
        pytest.param("Symptoms started August 3", 6, "since", id="started-date"),
        pytest.param("from 7/14/2026 to 8/25/2026", 6, "range", id="from-to"),
        pytest.param("07/14/2026-08/25/2026", 6, "range", id="dash-full-dates"),
        pytest.param("7/14 - 8/25", 6, "range", id="dash-month-day"),
        pytest.param("PT 7/14 through 8/25", 6, "range", id="through"),
        pytest.param("between 7/14 and 8/25", 6, "range", id="between-and"),
        pytest.param("from 8/1 to today", 44 / 7, "range", id="to-today"),
        pytest.param("12/15 - 1/10", 26 / 7, "range", id="range-across-new-year"),
        pytest.param("since 07/2026", 75 / 7, "since", id="since-numeric-month-year"),
        pytest.param("03/2026-present", 197 / 7, "range", id="month-year-to-present"),
        pytest.param("6/1/2026 to date", 105 / 7, "range", id="to-date"),
        pytest.param("07/2026 - 08/2026", 31 / 7, "range", id="numeric-months-range"),
        pytest.param("started 2 months ago", 8.69, "ago", id="months-ago"),
        pytest.param("3 weeks ago", 3, "ago", id="weeks-ago"),
    ],
)
def test_phrase_weeks(phrase: str, weeks: float, kind: str) -> None:
    found = only(phrase)
    assert found.kind == kind
    assert found.weeks == pytest.approx(weeks, abs=0.2)


@pytest.mark.parametrize(
    "phrase",
    [
        pytest.param("a few weeks", id="a-few"),
        pytest.param("several months", id="several"),
        pytest.param("a couple of weeks", id="couple"),
        pytest.param("worse over the last few weeks", id="last-few"),
        pytest.param("58 year old male", id="age"),
        pytest.param("58-year-old male", id="age-hyphenated"),
        pytest.param("8 years of age", id="years-of-age"),
        pytest.param("Amos reports pain", id="name-not-a-mos"),
        pytest.param("PT through 9/1", id="through-without-start"),
        pytest.param("7/14 and 8/25", id="and-without-between"),
        pytest.param("Strength 5/5 - 4/5", id="motor-grades"),
        pytest.param("PT 13/2026", id="not-a-month"),
        pytest.param("refill 09/20257", id="month-year-runs-on"),
        pytest.param("since surgery", id="since-event"),
        pytest.param("he may have had pain since", id="may-the-verb"),
        pytest.param("T 38.7 C", id="temperature"),
        pytest.param("L4-5 and C5-C6", id="levels"),
    ],
)
def test_no_duration(phrase: str) -> None:
    assert find_durations(phrase, note_date=NOTE_DATE) == []


def test_offsets_and_text() -> None:
    text = "Pain x 10 weeks; PT since 8/1 (from 7/14 to 8/25), began 2 months ago."
    found = find_durations(text, note_date=NOTE_DATE, offset=100)
    assert [m.text for m in found] == ["x 10 weeks", "since 8/1", "from 7/14 to 8/25", "2 months ago"]
    for mention in found:
        assert text[mention.start - 100 : mention.end - 100] == mention.text


def test_dates_of_each_kind() -> None:
    assert only("since 8/1").start_date == date(2026, 8, 1)
    assert only("since 8/1").end_date == NOTE_DATE
    assert (only("7/14 - 8/25").start_date, only("7/14 - 8/25").end_date) == (
        date(2026, 7, 14),
        date(2026, 8, 25),
    )
    assert only("2 weeks ago").start_date == date(2026, 8, 31)
    assert only("10 weeks").start_date is None


# --- note_date edge cases -------------------------------------------------------------------


@pytest.mark.parametrize(
    "phrase",
    [
        pytest.param("since 8/1", id="since-month-day"),
        pytest.param("since 2026-08-01", id="since-full-date"),
        pytest.param("began in July", id="began-in"),
        pytest.param("started 2 months ago", id="ago"),
        pytest.param("7/14 - 8/25", id="range-without-years"),
    ],
)
def test_without_note_date_no_mention(phrase: str) -> None:
    assert find_durations(phrase, note_date=None) == []


def test_without_note_date_lengths_and_full_ranges_remain() -> None:
    assert only("x 6 weeks", note_date=None).weeks == 6
    assert only("07/14/2026-08/25/2026", note_date=None).weeks == 6


def test_ago_without_note_date_does_not_become_a_length() -> None:
    assert find_durations("2 months ago", note_date=None) == []


@pytest.mark.parametrize(
    ("phrase", "start"),
    [
        pytest.param("since 10/1", date(2025, 10, 1), id="month-day-after-note-date"),
        pytest.param("since late September", date(2025, 9, 25), id="late-month-after-note-date"),
        pytest.param("since 9/14", date(2026, 9, 14), id="on-note-date"),
    ],
)
def test_year_inference(phrase: str, start: date) -> None:
    assert only(phrase).start_date == start


@pytest.mark.parametrize(
    "phrase",
    [
        pytest.param("since 2027-01-01", id="since-future"),
        pytest.param("from 9/1/2026 to 10/1/2026", id="range-ends-in-future"),
        pytest.param("from 8/25/2026 to 7/14/2026", id="range-backwards"),
    ],
)
def test_dates_after_note_date_discarded(phrase: str) -> None:
    assert find_durations(phrase, note_date=NOTE_DATE) == []


def test_since_note_date_is_zero_weeks() -> None:
    assert only("since today").weeks == 0


# --- parse_date -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param("2026-08-01", date(2026, 8, 1), id="iso"),
        pytest.param("08/01/2026", date(2026, 8, 1), id="us"),
        pytest.param("8/1/26", date(2026, 8, 1), id="us-two-digit-year"),
        pytest.param("8/1", date(2026, 8, 1), id="month-day"),
        pytest.param("12/25", date(2025, 12, 25), id="month-day-previous-year"),
        pytest.param("August", date(2026, 8, 1), id="month"),
        pytest.param("early August", date(2026, 8, 5), id="early"),
        pytest.param("mid-August", date(2026, 8, 15), id="mid"),
        pytest.param("late August", date(2026, 8, 25), id="late"),
        pytest.param("Aug 3", date(2026, 8, 3), id="abbrev-day"),
        pytest.param("August 3rd, 2024", date(2024, 8, 3), id="full"),
        pytest.param("Sept. 1", date(2026, 9, 1), id="sept"),
        pytest.param("yesterday", date(2026, 9, 13), id="yesterday"),
        pytest.param("2/30", None, id="impossible"),
        pytest.param("2026-13-01", None, id="bad-month"),
        pytest.param("marble", None, id="not-a-month"),
        pytest.param("soon", None, id="not-a-date"),
    ],
)
def test_parse_date(token: str, expected: date | None) -> None:
    assert parse_date(token, note_date=NOTE_DATE) == expected


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param("2026-08-01", date(2026, 8, 1), id="full-date-ok"),
        pytest.param("8/1", None, id="no-year"),
        pytest.param("August", None, id="month-only"),
        pytest.param("today", None, id="today"),
    ],
)
def test_parse_date_without_note_date(token: str, expected: date | None) -> None:
    assert parse_date(token, note_date=None) == expected


def test_from_without_an_end_counts_to_the_note_date() -> None:
    from datetime import date

    [found] = find_durations("Naproxen from 04/15, PT", note_date=date(2026, 6, 10))
    assert found.kind == "since" and round(found.weeks) == 8


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("ST. MARY'S EMERGENCY DEPARTMENT - 08/30/2026\nCC: fall.", date(2026, 8, 30)),
        ("RIVERSIDE FAMILY PRACTICE - OFFICE VISIT 09/02/2026 - Ana Ruiz, MD\nS: back pain.", date(2026, 9, 2)),
        ("LAKE ORTHOPAEDICS - CONSULT 2026-09-10 (faxed)\nHPI: ...", date(2026, 9, 10)),
        ("BP 132/84 09/02/2026 recheck\nHPI: ...", None),  # capitals and a date, but no document word
        ("Seen in the office on 09/02/2026 for back pain.", None),  # a sentence, not a title
    ],
)
def test_capital_document_titles_date_their_section(header: str, expected: date | None) -> None:
    found = section_dates(header, note_date=NOTE_DATE)
    assert (found[0][1] if found else None) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("LAKESIDE FAMILY MEDICINE          Encounter 09/02/2026 10:15\nS: back pain.", date(2026, 9, 2)),
        ("OPERATIVE REPORT - date of surgery 06/14/2018 (copy)\nFINDINGS: ...", date(2018, 6, 14)),
        ("MEDICATION LIST (reconciled 09/02/2026)\nnaproxen", date(2026, 9, 2)),
        ("PT SEEN 2X A WEEK SINCE 08/02/2026 WITH LITTLE CHANGE", None),  # a dictated sentence in capitals
    ],
)
def test_capital_titles_with_words_before_the_date(header: str, expected: date | None) -> None:
    found = section_dates(header, note_date=NOTE_DATE)
    assert (found[0][1] if found else None) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("[Enclosed: neurosurgery consult letter (2011), copy]\nHPI: ...", date(2011, 12, 31)),
        ("=== OUTSIDE DISCHARGE SUMMARY (2019) ===\nCourse: ...", date(2019, 12, 31)),
        ("Attachment - chiropractic records (2017)\nVisit 1 ...", date(2017, 12, 31)),
        ("=== PT PROGRESS NOTE (2026) ===\nVisit 4 ...", None),  # this year: the day matters, so no date
        ("Surgical history: L5-S1 discectomy (2009)\nMeds: ...", None),  # a history line, not a record's title
        ("- lumbar MRI report reviewed (2021)\n- PT", None),  # a list item, not a title
    ],
)
def test_an_attached_record_dated_by_its_year(header: str, expected: date | None) -> None:
    found = section_dates(header, note_date=NOTE_DATE)
    assert (found[0][1] if found else None) == expected
