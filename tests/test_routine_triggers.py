"""The pure trigger computation: every kind, DST forward and back (London, New York), the sun and polar days,
late slots, words, the spec language, and the APScheduler trigger built on it."""

from __future__ import annotations

import datetime as dt

import pytest
from astral import Observer
from astral import sun as astral_sun

from claw.routines.model import (
    ALL_DAYS,
    UTC,
    WEEKEND,
    WORKDAYS,
    Daily,
    DeviceStep,
    Interval,
    InvalidRoutine,
    Once,
    SayStep,
    Sun,
    WaitStep,
    routine_from_row,
    routine_row,
)
from claw.routines.spec import draft, parse_clock, parse_days, parse_duration, parse_step, parse_when
from claw.routines.triggers import (
    Location,
    Where,
    count_between,
    describe_trigger,
    last_at_or_before,
    local_instant,
    missed_slot,
    next_fire,
    next_fires,
    polar_days,
    runs_late,
    zone,
)

LONDON = Where(zone("Europe/London"), Location(51.5, -0.12))
NEW_YORK = Where(zone("America/New_York"))
TROMSO = Where(zone("Europe/Oslo"), Location(69.65, 18.96))


def at(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


def local(when: dt.datetime, where: Where) -> str:
    return when.astimezone(where.tz).strftime("%Y-%m-%d %H:%M %Z")


# ---- every kind ------------------------------------------------------------------------------------------
def test_daily_runs_every_day_at_the_wall_clock_time() -> None:
    trigger = Daily(dt.time(7, 0))
    assert next_fire(trigger, at(2026, 12, 3, 6, 59), LONDON) == at(2026, 12, 3, 7, 0)
    assert next_fire(trigger, at(2026, 12, 3, 7, 0), LONDON) == at(2026, 12, 4, 7, 0)  # strictly after
    summer = next_fire(trigger, at(2026, 7, 1, 0, 0), LONDON)
    assert summer == at(2026, 7, 1, 6, 0) and local(summer, LONDON) == "2026-07-01 07:00 BST"


def test_weekdays_skip_the_weekend_and_chosen_days_only() -> None:
    workdays = Daily(dt.time(7, 0), WORKDAYS)
    friday_evening = at(2026, 12, 4, 18, 0)
    assert [local(t, LONDON) for t in next_fires(workdays, friday_evening, LONDON, 2)] == [
        "2026-12-07 07:00 GMT", "2026-12-08 07:00 GMT"]
    weekend = Daily(dt.time(9, 30), WEEKEND)
    assert local(next_fire(weekend, friday_evening, LONDON), LONDON) == "2026-12-05 09:30 GMT"  # type: ignore[arg-type]
    wednesdays = Daily(dt.time(18, 0), frozenset({2}))
    assert [t.weekday() for t in next_fires(wednesdays, friday_evening, LONDON, 3)] == [2, 2, 2]


def test_an_interval_counts_elapsed_time_from_its_start_across_a_dst_change() -> None:
    trigger = Interval(3600, at(2026, 3, 28, 22, 0))
    fires = next_fires(trigger, at(2026, 3, 28, 22, 30), LONDON, 5)
    assert [f - fires[0] for f in fires] == [dt.timedelta(hours=h) for h in range(5)]  # 01:00 GMT→02:00 BST gap
    assert next_fire(trigger, at(2026, 3, 28, 21, 0), LONDON) == trigger.start
    assert next_fire(Interval(900, at(2026, 1, 1)), at(2026, 1, 1, 0, 15), LONDON) == at(2026, 1, 1, 0, 30)


def test_a_one_shot_fires_once() -> None:
    trigger = Once(at(2026, 12, 24, 23, 0))
    assert next_fire(trigger, at(2026, 12, 24, 22, 0), LONDON) == trigger.at
    assert next_fire(trigger, trigger.at, LONDON) is None
    assert next_fires(trigger, at(2026, 1, 1), LONDON) == [trigger.at]


def test_sunrise_and_sunset_with_an_offset_match_astral() -> None:
    observer = Observer(51.5, -0.12)
    sunset = astral_sun.sunset(observer, dt.date(2026, 6, 21), LONDON.tz).astimezone(UTC).replace(microsecond=0)
    trigger = Sun("sunset", -15 * 60)
    assert next_fire(trigger, at(2026, 6, 21, 4, 0), LONDON) == sunset - dt.timedelta(minutes=15)
    sunrise = astral_sun.sunrise(observer, dt.date(2026, 12, 22), LONDON.tz).astimezone(UTC).replace(microsecond=0)
    assert next_fire(Sun("sunrise", 3600), at(2026, 12, 22, 0, 0), LONDON) == sunrise + dt.timedelta(hours=1)
    weekends = Sun("sunrise", 0, WEEKEND)
    assert all(t.astimezone(LONDON.tz).weekday() in WEEKEND for t in next_fires(weekends, at(2026, 12, 1), LONDON))


def test_polar_night_has_no_sunrise_and_that_is_said() -> None:
    trigger = Sun("sunrise")
    fires = next_fires(trigger, at(2026, 11, 20, 12, 0), TROMSO, 3)
    assert [f.astimezone(TROMSO.tz).date() for f in fires][:2] == [dt.date(2026, 11, 21), dt.date(2026, 11, 22)]
    first_january = next_fire(trigger, at(2026, 11, 30), TROMSO)
    assert first_january is not None and first_january.astimezone(TROMSO.tz).date() >= dt.date(2027, 1, 10)
    assert polar_days(trigger, at(2026, 11, 30), first_january, TROMSO) > 35
    assert polar_days(trigger, at(2026, 3, 1), at(2026, 3, 10), TROMSO) == 0
    midsummer = next_fire(Sun("sunset"), at(2026, 6, 1), TROMSO)  # the midnight sun: the first sunset in July
    assert midsummer is not None and midsummer.astimezone(TROMSO.tz).date() > dt.date(2026, 7, 15)


def test_a_sun_trigger_without_a_location_says_what_to_set() -> None:
    with pytest.raises(InvalidRoutine, match="latitude and longitude"):
        next_fire(Sun("sunset"), at(2026, 1, 1), NEW_YORK)


# ---- DST -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("where", "clock", "after", "expected"), [
    # London, 29 Mar 2026: 01:00 GMT becomes 02:00 BST; 01:30 never happens and runs at 02:00 BST
    (LONDON, dt.time(1, 30), at(2026, 3, 28, 12), ["2026-03-29 02:00 BST", "2026-03-30 01:30 BST"]),
    (LONDON, dt.time(1, 0), at(2026, 3, 28, 12), ["2026-03-29 02:00 BST", "2026-03-30 01:00 BST"]),
    # New York, 8 Mar 2026: 02:00 EST becomes 03:00 EDT; 02:30 runs at 03:00 EDT
    (NEW_YORK, dt.time(2, 30), at(2026, 3, 7, 12), ["2026-03-08 03:00 EDT", "2026-03-09 02:30 EDT"]),
])
def test_a_time_in_the_skipped_hour_runs_once_at_the_next_valid_time(where: Where, clock: dt.time,
                                                                     after: dt.datetime, expected: list[str]) -> None:
    trigger = Daily(clock)
    fires = next_fires(trigger, after, where, 2)
    assert [local(t, where) for t in fires] == expected
    assert count_between(trigger, after, after + dt.timedelta(days=1), where) == 1


@pytest.mark.parametrize(("where", "after", "first"), [
    # London, 25 Oct 2026: 02:00 BST becomes 01:00 GMT; 01:30 happens twice and runs the first time only
    (LONDON, at(2026, 10, 24, 12), "2026-10-25 01:30 BST"),
    # New York, 1 Nov 2026: 02:00 EDT becomes 01:00 EST
    (NEW_YORK, at(2026, 10, 31, 12), "2026-11-01 01:30 EDT"),
])
def test_a_time_in_the_repeated_hour_runs_once(where: Where, after: dt.datetime, first: str) -> None:
    trigger = Daily(dt.time(1, 30))
    fires = next_fires(trigger, after, where, 2)
    assert local(fires[0], where) == first
    assert fires[1] - fires[0] == dt.timedelta(hours=25)  # the next day's, not the repeat an hour later
    assert count_between(trigger, after, after + dt.timedelta(days=1), where) == 1
    assert last_at_or_before(trigger, fires[0] + dt.timedelta(hours=1, minutes=10), where) == fires[0]


def test_a_wall_clock_time_keeps_its_local_hour_across_the_change() -> None:
    trigger = Daily(dt.time(7, 0))
    before, after = next_fire(trigger, at(2026, 3, 28, 8), LONDON), next_fire(trigger, at(2026, 3, 29, 8), LONDON)
    assert (before, after) == (at(2026, 3, 29, 6, 0), at(2026, 3, 30, 6, 0))
    assert local_instant(dt.date(2026, 3, 28), dt.time(7), LONDON.tz) == at(2026, 3, 28, 7, 0)


# ---- late and missed -------------------------------------------------------------------------------------
def test_last_slot_and_counts() -> None:
    daily = Daily(dt.time(7, 0))
    assert last_at_or_before(daily, at(2026, 12, 3, 6, 59), LONDON) == at(2026, 12, 2, 7, 0)
    assert last_at_or_before(daily, at(2026, 12, 3, 7, 0), LONDON) == at(2026, 12, 3, 7, 0)
    assert count_between(daily, at(2026, 12, 1, 8), at(2026, 12, 4, 8), LONDON) == 3
    every = Interval(600, at(2026, 1, 1))
    assert count_between(every, at(2026, 1, 1), at(2026, 1, 1, 1, 0), LONDON) == 6
    assert count_between(every, at(2026, 1, 1), at(2027, 1, 1), LONDON) == 100  # capped
    assert last_at_or_before(Once(at(2026, 5, 1)), at(2026, 4, 1), LONDON) is None


@pytest.mark.parametrize(("policy", "late", "down", "runs"), [
    ("catch_up", 599, True, True), ("catch_up", 601, True, False), ("catch_up", 30, False, True),
    ("skip", 1, True, False), ("skip", 30, False, True), ("skip", 601, False, False),
    ("always", 86400 * 30, True, True), ("always", 86400, False, True),
])
def test_runs_late_by_policy(policy: str, late: float, down: bool, runs: bool) -> None:
    assert runs_late(late, policy, 600, after_downtime=down) is runs  # type: ignore[arg-type]


def test_the_missed_slots_collapse_into_the_latest() -> None:
    daily = Daily(dt.time(7, 0))
    found = missed_slot(daily, at(2026, 12, 1, 12), at(2026, 12, 4, 7, 5), LONDON, "catch_up", 600)
    assert found is not None
    assert (found.slot, found.count, found.late, found.run) == (at(2026, 12, 4, 7, 0), 3, 300.0, True)
    assert missed_slot(daily, at(2026, 12, 4, 7, 0), at(2026, 12, 4, 7, 5), LONDON, "catch_up", 600) is None
    late = missed_slot(daily, at(2026, 12, 3, 12), at(2026, 12, 4, 9), LONDON, "catch_up", 600)
    assert late is not None and not late.run and late.count == 1


# ---- words -----------------------------------------------------------------------------------------------
def test_triggers_in_words() -> None:
    assert describe_trigger(Daily(dt.time(7, 0), WORKDAYS), "Europe/London") == \
        "every weekday at 07:00 (Europe/London)"
    assert describe_trigger(Daily(dt.time(21, 15)), "UTC") == "every day at 21:15 (UTC)"
    assert describe_trigger(Daily(dt.time(8, 0), frozenset({0, 2, 4})), "UTC") == \
        "every Monday, Wednesday and Friday at 08:00 (UTC)"
    assert describe_trigger(Interval(900, at(2026, 1, 1)), "UTC") == "every 15 minutes"
    assert describe_trigger(Interval(3600, at(2026, 1, 1)), "UTC") == "every hour"
    assert describe_trigger(Interval(5400, at(2026, 1, 1)), "UTC") == "every 1 hour 30 minutes"
    assert describe_trigger(Once(at(2026, 12, 24, 23)), "Europe/London") == \
        "once, on Thu 24 Dec 2026 23:00 GMT (Europe/London)"
    assert describe_trigger(Sun("sunset", -900), "Europe/Oslo") == \
        "15 minutes before sunset every day (Europe/Oslo)"
    assert describe_trigger(Sun("sunrise", 0, WEEKEND), "UTC") == "at sunrise every weekend day (UTC)"


# ---- the spec language -----------------------------------------------------------------------------------
NOW = at(2026, 12, 3, 10, 0)  # a Thursday


@pytest.mark.parametrize(("text", "expected"), [
    ("07:00", Daily(dt.time(7, 0))),
    ("daily 7am", Daily(dt.time(7, 0))),
    ("every day at 7:30 pm", Daily(dt.time(19, 30))),
    ("weekdays 07:00", Daily(dt.time(7, 0), WORKDAYS)),
    ("every weekday at 07:00", Daily(dt.time(7, 0), WORKDAYS)),
    ("weekends 09:30", Daily(dt.time(9, 30), WEEKEND)),
    ("mon,wed,fri 18:00", Daily(dt.time(18, 0), frozenset({0, 2, 4}))),
    ("fri-mon 08:00", Daily(dt.time(8, 0), frozenset({4, 5, 6, 0}))),
    ("every 15m", Interval(900, NOW)),
    ("every 1h30m", Interval(5400, NOW)),
    ("in 20 minutes", Once(NOW + dt.timedelta(minutes=20))),
    ("tomorrow 08:00", Once(at(2026, 12, 4, 8, 0))),
    ("today at 23:00", Once(at(2026, 12, 3, 23, 0))),
    ("once 2026-12-24 23:00", Once(at(2026, 12, 24, 23, 0))),
    ("once 2026-12-24T23:00Z", Once(at(2026, 12, 24, 23, 0))),
    ("sunset", Sun("sunset")),
    ("sunrise -30m", Sun("sunrise", -1800)),
    ("at sunset +1h weekends", Sun("sunset", 3600, WEEKEND)),
])
def test_when_in_words(text: str, expected: object) -> None:
    assert parse_when(text, "Europe/London", NOW) == expected


@pytest.mark.parametrize(("text", "error"), [
    ("every 5s", "at least 10 seconds"), ("25:00", "not a time of day"), ("in 1 fortnight", "unknown unit"),
    ("today 09:00", "already passed"), ("funday 07:00", "not a day"), ("", "say when"),
])
def test_bad_whens_say_why(text: str, error: str) -> None:
    with pytest.raises(InvalidRoutine, match=error):
        parse_when(text, "Europe/London", NOW)


def test_the_small_parsers() -> None:
    assert [parse_duration(t) for t in ("90", "30s", "-15m", "+1 hour", "1h30m", "2 days")] == [
        90, 30, -900, 3600, 5400, 172800]
    assert [parse_clock(t) for t in ("7:05", "12am", "12pm", "19:05:30")] == [
        dt.time(7, 5), dt.time(0, 0), dt.time(12, 0), dt.time(19, 5, 30)]
    assert parse_days("daily") == ALL_DAYS and parse_days(["Saturday", "sun"]) == WEEKEND
    ids = {"kitchen light": "light-1", "thermostat": "climate-1"}

    def resolve(ref: str) -> str:
        return ids[ref]

    assert parse_step("kitchen light:turn_on", resolve) == DeviceStep("light-1", "turn_on", {})
    assert parse_step("thermostat:set_temperature temperature=18.5", resolve) == DeviceStep(
        "climate-1", "set_temperature", {"temperature": 18.5})
    assert parse_step("say: Good morning", resolve) == SayStep("Good morning")
    assert parse_step("wait:2m", resolve) == WaitStep(120)
    with pytest.raises(InvalidRoutine, match="NAME=VALUE"):
        parse_step("kitchen light:set_brightness 40", resolve)


def test_a_routine_round_trips_through_its_stored_row() -> None:
    routine = draft({"name": "Morning", "when": "weekdays 06:45", "grace": "5m", "missed": "skip",
                     "steps": ["say:hi", {"wait": 30}, {"device": "k", "command": "turn_on"}]},
                    tz_default="Europe/London", now=NOW, resolve=lambda ref: f"id-{ref}")
    row = {**routine_row(routine), "id": 4, "created_at": 1.0, "updated_at": 2.0}
    again = routine_from_row(row)
    assert again.trigger == routine.trigger and again.steps == routine.steps
    assert (again.id, again.grace, again.missed, again.tz) == (4, 300.0, "skip", "Europe/London")


# ---- APScheduler ---------------------------------------------------------------------------------------
def test_the_apscheduler_trigger_follows_the_pure_computation_and_jumps_a_long_stall() -> None:
    from claw.routines.aps import RoutineTrigger

    trigger = RoutineTrigger(Daily(dt.time(1, 30)), LONDON)
    assert trigger.get_next_fire_time(None, at(2026, 3, 28, 12)) == at(2026, 3, 29, 1, 0)  # the gap
    assert trigger.get_next_fire_time(at(2026, 3, 29, 1, 0), at(2026, 3, 29, 1, 0)) == at(2026, 3, 30, 0, 30)
    # a machine suspended for a month: the next fire time is the latest passed slot, not the month's first
    assert trigger.get_next_fire_time(at(2026, 1, 1, 1, 30), at(2026, 2, 1, 12)) == at(2026, 2, 1, 1, 30)
    every = RoutineTrigger(Interval(10, at(2026, 1, 1)), LONDON)
    assert every.get_next_fire_time(at(2026, 1, 1), at(2026, 1, 2)) == at(2026, 1, 2)
