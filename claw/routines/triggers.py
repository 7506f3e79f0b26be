"""When a trigger fires, computed purely in a zoneinfo time zone: DST gaps and repeats, the sun, late slots, words."""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from claw.routines.model import (
    ALL_DAYS,
    UTC,
    WEEKEND,
    WORKDAYS,
    Daily,
    Interval,
    InvalidRoutine,
    MissedPolicy,
    Once,
    Sun,
    Trigger,
)

SUN_SEARCH_DAYS = 370  # a sunrise (or sunset) further away than this never comes at this place
LOOKBACK_DAYS = 8  # how far back `last_at_or_before` looks for calendar and sun triggers
_DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class Location:
    """Where the sun is computed (degrees; north and east positive)."""

    latitude: float
    longitude: float


@dataclass(frozen=True)
class Where:
    """What a trigger's times depend on besides itself: the routine's zone and the home's location."""

    tz: ZoneInfo
    location: Location | None = None


def zone(name: str) -> ZoneInfo:
    """The zone called `name` ("Europe/London"); InvalidRoutine naming it when there is none."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRoutine(f"unknown time zone {name!r} (use a name like Europe/London)") from None


def utc(when: dt.datetime) -> dt.datetime:
    if when.tzinfo is None:
        raise ValueError("a naive datetime: give the instant with its zone")
    return when.astimezone(UTC)


# wall-clock times ----------------------------------------------------------------------------------
def local_instant(day: dt.date, at: dt.time, tz: ZoneInfo) -> dt.datetime:
    """The instant (UTC) the wall clock in `tz` shows `at` on `day`. A time shown twice (the clocks go back)
    is its first occurrence; a time never shown (the clocks go forward over it) is the first valid moment
    after the gap, i.e. the instant of the change."""
    naive = dt.datetime.combine(day, at.replace(tzinfo=None))
    first = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if first.astimezone(tz).replace(tzinfo=None) == naive:
        return first
    other = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    lo, hi = min(first, other), max(first, other)
    after = hi.astimezone(tz).utcoffset()
    while hi - lo > dt.timedelta(seconds=1):  # the change is the earliest instant with the later offset
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).utcoffset() == after:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def sun_event(event: str, location: Location, day: dt.date, tz: ZoneInfo) -> dt.datetime | None:
    """Sunrise or sunset (UTC, whole seconds) on the local `day`, or None when the sun does not rise or set
    that day there (polar day or night). Remembered: every sunset routine of a home asks the same days."""
    return _sun_event(event, location.latitude, location.longitude, day, tz)


@functools.lru_cache(maxsize=8192)
def _sun_event(event: str, latitude: float, longitude: float, day: dt.date, tz: ZoneInfo) -> dt.datetime | None:
    from astral import Observer
    from astral import sun as astral_sun

    observer = Observer(latitude=latitude, longitude=longitude)
    compute = astral_sun.sunrise if event == "sunrise" else astral_sun.sunset
    try:
        when = compute(observer, day, tz)
    except ValueError:  # "Sun is always above/below the horizon on this day, at this location."
        return None
    return when.astimezone(UTC).replace(microsecond=0)


def on_day(trigger: Daily | Sun, day: dt.date, where: Where) -> dt.datetime | None:
    """The trigger's slot on the local `day` (None: not one of its days, or no sunrise/sunset that day)."""
    if day.weekday() not in trigger.days:
        return None
    if isinstance(trigger, Daily):
        return local_instant(day, trigger.at, where.tz)
    event = sun_event(trigger.event, _location(where), day, where.tz)
    return None if event is None else event + dt.timedelta(seconds=trigger.offset)


# next and previous slots ---------------------------------------------------------------------------
def next_fire(trigger: Trigger, after: dt.datetime, where: Where) -> dt.datetime | None:
    """The first slot strictly after `after` (UTC, whole seconds), or None when there is none any more."""
    after = utc(after)
    if isinstance(trigger, Once):
        return trigger.at if trigger.at > after else None
    if isinstance(trigger, Interval):
        if after < trigger.start:
            return trigger.start
        k = math.floor((after - trigger.start).total_seconds() / trigger.every) + 1
        return trigger.start + dt.timedelta(seconds=k * trigger.every)
    first_day = after.astimezone(where.tz).date() - dt.timedelta(days=1)
    for i in range(LOOKBACK_DAYS + 2 if isinstance(trigger, Daily) else SUN_SEARCH_DAYS):
        when = on_day(trigger, first_day + dt.timedelta(days=i), where)
        if when is not None and when > after:
            return when
    return None


def _location(where: Where) -> Location:
    if where.location is None:
        raise InvalidRoutine("sunrise and sunset need the home's location: set latitude and longitude under "
                             "[routines] in claw.toml")
    return where.location


def next_fires(trigger: Trigger, after: dt.datetime, where: Where, n: int = 3) -> list[dt.datetime]:
    """The next `n` slots after `after` (fewer when the trigger ends)."""
    out: list[dt.datetime] = []
    when: dt.datetime | None = after
    while len(out) < n and when is not None:
        when = next_fire(trigger, when, where)
        if when is not None:
            out.append(when)
    return out


def last_at_or_before(trigger: Trigger, until: dt.datetime, where: Where) -> dt.datetime | None:
    """The latest slot at or before `until` (looking back at most LOOKBACK_DAYS for calendar triggers)."""
    until = utc(until)
    if isinstance(trigger, Once):
        return trigger.at if trigger.at <= until else None
    if isinstance(trigger, Interval):
        if until < trigger.start:
            return None
        k = math.floor((until - trigger.start).total_seconds() / trigger.every)
        return trigger.start + dt.timedelta(seconds=k * trigger.every)
    last_day = until.astimezone(where.tz).date() + dt.timedelta(days=1)
    for i in range(LOOKBACK_DAYS + 2):  # a day's slot is later than the day before's: the first found is the latest
        when = on_day(trigger, last_day - dt.timedelta(days=i), where)
        if when is not None and when <= until:
            return when
    return None


def count_between(trigger: Trigger, after: dt.datetime, until: dt.datetime, where: Where, cap: int = 100) -> int:
    """How many slots lie in (after, until], counted up to `cap`."""
    if isinstance(trigger, Interval):
        first = next_fire(trigger, after, where)
        if first is None or first > until:
            return 0
        return min(cap, 1 + math.floor((utc(until) - first).total_seconds() / trigger.every))
    count, when = 0, next_fire(trigger, after, where)
    while when is not None and when <= until and count < cap:
        count, when = count + 1, next_fire(trigger, when, where)
    return count


def runs_late(late: float, policy: MissedPolicy, grace: float, *, after_downtime: bool) -> bool:
    """Whether a slot found `late` seconds after its time still runs. `always`: yes, once; `skip`: never after
    the claw was down; otherwise (and for `skip` while running) only within the grace."""
    if policy == "always":
        return True
    if policy == "skip" and after_downtime:
        return False
    return late <= grace


@dataclass(frozen=True)
class Missed:
    """The latest slot that passed unrun (`count` slots passed in all, up to 100), and whether it still runs."""

    slot: dt.datetime
    count: int
    late: float
    run: bool


def missed_slot(trigger: Trigger, since: dt.datetime, now: dt.datetime, where: Where, policy: MissedPolicy,
                grace: float) -> Missed | None:
    """What passed while the claw was down: the slots in (since, now] collapse into the latest one, which runs
    late or not by the policy (see runs_late); None when no slot passed."""
    slot = last_at_or_before(trigger, now, where)
    if slot is None or slot <= since:
        return None
    late = (utc(now) - slot).total_seconds()
    return Missed(slot, count_between(trigger, since, now, where), late,
                  runs_late(late, policy, grace, after_downtime=True))


def polar_days(trigger: Sun, after: dt.datetime, until: dt.datetime, where: Where) -> int:
    """How many of the trigger's days from `after` to `until` (local dates) have no sunrise or sunset."""
    location = _location(where)
    day, last = utc(after).astimezone(where.tz).date(), utc(until).astimezone(where.tz).date()
    missing = 0
    while day <= last:
        if day.weekday() in trigger.days and sun_event(trigger.event, location, day, where.tz) is None:
            missing += 1
        day += dt.timedelta(days=1)
    return missing


# words ---------------------------------------------------------------------------------------------
def clock_text(at: dt.time) -> str:
    return at.strftime("%H:%M:%S" if at.second else "%H:%M")


def duration_text(seconds: float) -> str:
    """"45 seconds", "15 minutes", "1 hour 30 minutes", "2 days"."""
    seconds = int(round(abs(seconds)))
    parts = []
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60), ("second", 1)):
        if seconds >= size:
            n, seconds = divmod(seconds, size)
            parts.append(f"{n} {unit}{'s' if n != 1 else ''}")
    return " ".join(parts) or "0 seconds"


def days_text(days: frozenset[int]) -> str:
    """"every day", "every weekday", "every weekend day", "every Monday, Wednesday and Friday"."""
    if days == ALL_DAYS:
        return "every day"
    if days == WORKDAYS:
        return "every weekday"
    if days == WEEKEND:
        return "every weekend day"
    names = [_DAY_NAMES[d] for d in sorted(days)]
    return "every " + (names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1])


def when_text(when: dt.datetime, tz: ZoneInfo, now: dt.datetime | None = None) -> str:
    """"Mon 7 Dec 07:00 GMT" in the routine's zone (with the year when it is not `now`'s)."""
    local = utc(when).astimezone(tz)
    year = "" if now is not None and utc(now).astimezone(tz).year == local.year else f" {local.year}"
    return f"{local.strftime('%a')} {local.day} {local.strftime('%b')}{year} {local.strftime('%H:%M')} {local.tzname()}"


def describe_trigger(trigger: Trigger, tz_name: str) -> str:
    """"every weekday at 07:00 (Europe/London)", "every 15 minutes", "30 minutes before sunset every day
    (Europe/Oslo)"."""
    if isinstance(trigger, Interval):
        every = duration_text(trigger.every)
        return f"every {every[2:] if every.startswith('1 ') and every.count(' ') == 1 else every}"
    tz = zone(tz_name)
    if isinstance(trigger, Once):
        return f"once, on {when_text(trigger.at, tz)} ({tz_name})"
    if isinstance(trigger, Daily):
        return f"{days_text(trigger.days)} at {clock_text(trigger.at)} ({tz_name})"
    if trigger.offset == 0:
        at = f"at {trigger.event}"
    else:
        at = f"{duration_text(trigger.offset)} {'before' if trigger.offset < 0 else 'after'} {trigger.event}"
    return f"{at} {days_text(trigger.days)} ({tz_name})"
