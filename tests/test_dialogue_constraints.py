"""Slot constraints inside the policy: a value that breaks one fills nothing and is asked again
with the constraint's message; templates show built-in slots as people write them."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from bot.dialogue import Decision, State, decide
from bot.domain import Domain, parse_domain
from bot.understanding import Entity, EntityValue, Prediction

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
"""Tuesday 1 December 2026, 10:00 UTC: Sunday is the 6th, Friday the 4th."""

SHOP = """
language: en
fallback: {threshold: 0.3, responses: ["Sorry?"]}
forms:
  cancel_intents: [stop]
  affirm_intents: [affirm]
  stuck: "I need this to go on. {question}"
entities:
  day: {builtin: date}
  hour: {builtin: time}
  people: {builtin: number}
  colour: {values: [red, blue]}
slots:
  day:
    entity: day
    scope: form
    future: true
    weekdays: [mon, tue, wed, thu, fri, sat]
    messages: {weekdays: "We're closed on Sundays. Which other day suits you?"}
  hour: {entity: hour, scope: form, between: "09:00-18:00"}
  people: {entity: people, min: 1, max: 8}
  colour: {entity: colour, choices: [red]}
intents:
  book:
    title: "Book a visit"
    examples: [book a visit, i need an appointment]
    slots: {day: "Which day?", hour: "What time?"}
    confirm: "Book {day} at {hour}?"
    responses: ["Booked for {day} at {hour}."]
  table:
    examples: [a table please, book a table]
    slots: {people: "For how many?"}
    responses: ["A table for {people}."]
  paint:
    examples: [paint it, paint the door]
    slots: {colour: "Which colour?"}
    responses: ["Painted {colour}."]
  hours: {examples: [when are you open, opening hours], responses: ["9 to 6, Monday to Saturday."]}
  affirm: {title: "Yes", examples: ["yes", "yes please"], responses: ["Good."]}
  stop: {title: "Cancel", examples: [stop, never mind], responses: ["Okay."]}
  correct: {examples: ["actually make it friday", "change it to monday"], responses: ["What should I change?"]}
  talk_to_human: {title: "Talk to a person", examples: [agent, a human please], responses: ["Call 0100."]}
"""


@pytest.fixture(scope="module")
def domain() -> Domain:
    return parse_domain(SHOP)


def sure(intent: str) -> Prediction:
    return Prediction(intent, 0.95, [(intent, 0.95)], False, False)


UNSURE = Prediction("hours", 0.1, [("hours", 0.1)], True, False)


def found(entity: str, value: EntityValue, text: str, start: int = 0) -> Entity:
    return Entity(entity, value, start, start + len(text), text, source="builtin")


SUNDAY = found("day", "2026-12-06", "sunday")
FRIDAY = found("day", "2026-12-04", "friday")
PAST = found("day", "2026-11-30", "monday 30 november")
AT_3AM = found("hour", "03:00:00", "3am")
AT_3PM = found("hour", "15:00:00", "3pm")
ASKING_DAY = State("book", "day")
ASKING_HOUR = State("book", "hour", {"day": "2026-12-04"})
BOOKED = State(slots={"day": "2026-12-04", "hour": "15:00:00"}, last_form="book")

CLOSED = "We're closed on Sundays. Which other day suits you?"
GONE = "That date has already passed. Which date would you like?"
HOURS = "Please pick a time between 09:00 and 18:00."

TABLE = [
    # (name, text, prediction, entities, state, replies, requested, slots, failures)
    ("a Sunday asked again", "sunday", UNSURE, [SUNDAY], ASKING_DAY, [CLOSED], "day", {}, 1),
    ("a past day: the default message", "monday 30 november", UNSURE, [PAST], ASKING_DAY, [GONE], "day", {}, 1),
    ("a good day fills", "friday", UNSURE, [FRIDAY], ASKING_DAY, ["What time?"], "hour", {"day": "2026-12-04"}, 0),
    ("outside the hours", "3am", UNSURE, [AT_3AM], ASKING_HOUR, [HOURS], "hour", {"day": "2026-12-04"}, 1),
    (
        "the second wrong answer offers ways out",
        "sunday",
        UNSURE,
        [SUNDAY],
        State("book", "day", failures=1),
        [f"I need this to go on. {CLOSED}"],
        "day",
        {},
        2,
    ),
    (
        "a Sunday in the first message: the rest kept, the day asked",
        "book a visit on sunday at 3pm",
        sure("book"),
        [found("day", "2026-12-06", "sunday", 16), found("hour", "15:00:00", "3pm", 26)],
        State(),
        [CLOSED],
        "day",
        {"hour": "15:00:00"},
        0,
    ),
    (
        "a good value with a broken one: noted, then the broken one asked",
        "sunday at 3pm",
        UNSURE,
        [SUNDAY, found("hour", "15:00:00", "3pm", 10)],
        ASKING_DAY,
        [f"Noted: 15:00. {CLOSED}"],
        "day",
        {"hour": "15:00:00"},
        1,
    ),
    (
        "a broken time given while the day is asked is asked first",
        "3am",
        UNSURE,
        [AT_3AM],
        ASKING_DAY,
        [HOURS],
        "hour",
        {},
        0,
    ),
    (
        "a correction to a Sunday after the form: the booking kept, the day asked",
        "actually make it sunday",
        sure("correct"),
        [found("day", "2026-12-06", "sunday", 17)],
        BOOKED,
        [CLOSED],
        "day",
        {"day": "2026-12-04", "hour": "15:00:00"},
        0,
    ),
    (
        "too many people",
        "20",
        UNSURE,
        [found("people", 20, "20")],
        State("table", "people"),
        ["That's too many: the most is 8."],
        "people",
        {},
        1,
    ),
    (
        "not a choice",
        "blue",
        UNSURE,
        [Entity("colour", "blue", 0, 4, "blue")],
        State("paint", "colour"),
        ["Please choose one of: red."],
        "colour",
        {},
        1,
    ),
]


@pytest.mark.parametrize(
    ("text", "prediction", "entities", "state", "replies", "requested", "slots", "failures"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_constraints_in_the_policy(
    domain: Domain,
    text: str,
    prediction: Prediction,
    entities: list[Entity],
    state: State,
    replies: list[str],
    requested: str,
    slots: dict[str, EntityValue],
    failures: int,
) -> None:
    decision = decide(text, prediction, entities, state, domain, random.Random(0), now=NOW)
    assert [m.text for m in decision.messages] == replies
    assert decision.state.requested_slot == requested
    assert dict(decision.state.slots) == slots
    assert decision.state.failures == failures
    assert decision.run is None


def test_the_second_wrong_answer_offers_the_ways_out_as_buttons(domain: Domain) -> None:
    decision = decide("sunday", UNSURE, [SUNDAY], State("book", "day", failures=1), domain, random.Random(0), now=NOW)
    assert [title for title, _ in decision.messages[0].buttons] == ["Cancel", "Talk to a person"]


def test_the_day_is_judged_at_the_turns_now(domain: Domain) -> None:
    """The same Friday is fine on Tuesday and past on Saturday: the policy reads no clock of its own."""
    later = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)
    tuesday = decide("friday", UNSURE, [FRIDAY], ASKING_DAY, domain, random.Random(0), now=NOW)
    saturday = decide("friday", UNSURE, [FRIDAY], ASKING_DAY, domain, random.Random(0), now=later)
    assert tuesday.state.slots == {"day": "2026-12-04"}
    assert [m.text for m in saturday.messages] == [GONE] and saturday.state.slots == {}


def test_today_in_the_sessions_zone(domain: Domain) -> None:
    """23:30 on Monday 30 November in UTC is already Tuesday in Moscow: Monday is past there."""
    late = datetime(2026, 11, 30, 23, 30, tzinfo=UTC)
    monday = found("day", "2026-11-30", "today")
    in_london = decide("today", UNSURE, [monday], ASKING_DAY, domain, random.Random(0), now=late)
    in_moscow = decide(
        "today", UNSURE, [monday], ASKING_DAY, domain, random.Random(0), now=late.astimezone(ZoneInfo("Europe/Moscow"))
    )
    assert in_london.state.slots == {"day": "2026-11-30"}
    assert [m.text for m in in_moscow.messages] == [GONE]


def test_a_question_with_a_broken_value_is_answered(domain: Domain) -> None:
    """'Are you open on sunday?' while the day is asked: the answer, then the question again."""
    decision = decide("are you open on sunday?", sure("hours"), [SUNDAY], ASKING_DAY, domain, random.Random(0), now=NOW)
    assert [m.text for m in decision.messages] == ["9 to 6, Monday to Saturday.", "Which day?"]
    assert decision.state.failures == 0


def test_now_must_be_aware(domain: Domain) -> None:
    with pytest.raises(ValueError, match="aware `now`"):
        decide("friday", UNSURE, [FRIDAY], ASKING_DAY, domain, random.Random(0), now=datetime(2026, 12, 1, 10))


def test_templates_show_built_in_values_and_slots_keep_iso(domain: Domain) -> None:
    confirm = decide("3pm", UNSURE, [AT_3PM], ASKING_HOUR, domain, random.Random(0), now=NOW)
    assert [m.text for m in confirm.messages] == ["Book Friday 4 December at 15:00?"]
    assert dict(confirm.state.slots) == {"day": "2026-12-04", "hour": "15:00:00"}
    done = decide("yes", sure("affirm"), [], confirm.state, domain, random.Random(0), now=NOW)
    assert [m.text for m in done.messages] == ["Booked for Friday 4 December at 15:00."]


def test_a_value_no_built_in_made_is_shown_as_it_is(domain: Domain) -> None:
    """A validator or an action may have set a slot to anything: it is shown, not broken."""
    state = State("book", "?confirm", {"day": "next week", "hour": "15:00:00"})
    decision: Decision = decide("yes", sure("affirm"), [], state, domain, random.Random(0), now=NOW)
    assert [m.text for m in decision.messages] == ["Booked for next week at 15:00."]


def test_templates_in_russian() -> None:
    domain = parse_domain(SHOP.replace("language: en", "language: ru"))
    decision = decide("15:00", UNSURE, [AT_3PM], ASKING_HOUR, domain, random.Random(0), now=NOW)
    assert [m.text for m in decision.messages] == ["Book пятница, 4 декабря at 15:00?"]
