"""Pure decisions about physical actions whose outcome is unknown (a crash mid-command, a timeout), and their words."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from devices.effects import IDEMPOTENT, checkable, shows_effect

# When the settler reads an unknown action's device again: after each delay in turn, then it gives up.
SETTLE_DELAYS: tuple[float, ...] = (1.0, 2.0, 4.0, 8.0, 15.0)
ABSENT_TO_FAIL = 2  # readable states without the effect before "it did not happen" (one may race the command)


class Resume(StrEnum):
    """What a resumed turn does with a step the ledger shows as started (or unknown) but not finished."""

    DONE = "done"  # the state shows the effect: report it done, do not send it again
    REDO = "redo"  # the state shows it did not happen, and sending it again is harmless: send it once
    ASK = "ask"  # risky, not idempotent, or the state cannot tell: tell the owner and hold it for a fresh YES


class Settle(StrEnum):
    """What the settler concludes from one read of an unknown action's device."""

    DONE = "done"  # the effect is there: it happened after all
    FAILED = "failed"  # the state, read more than once, lacks the effect: it did not happen
    RETRY = "retry"  # not sure yet: read again later
    UNREADABLE = "unreadable"  # out of tries and the device never answered: the owner is told to check
    UNCHECKABLE = "uncheckable"  # the device answers, but its state cannot show this command's effect


def resume_verdict(command: str, args: dict[str, Any], state: dict[str, Any] | None, risky: bool) -> Resume:
    """Decide a step interrupted by a crash from the device's state now (None: it could not be read)."""
    effect = shows_effect(command, args, state)
    if effect is True:
        return Resume.DONE
    if effect is False and command in IDEMPOTENT and not risky:
        return Resume.REDO
    return Resume.ASK


def settle_verdict(command: str, args: dict[str, Any], state: dict[str, Any] | None, checks: int, absent: int,
                   max_checks: int = len(SETTLE_DELAYS)) -> Settle:
    """Decide an unknown action from this read (`state` None: unreadable), the `checks` made before it and
    how many of those read a state without the effect (`absent`)."""
    last = checks + 1 >= max_checks
    if state is None or state.get("available") is False:
        return Settle.UNREADABLE if last else Settle.RETRY
    effect = shows_effect(command, args, state) if checkable(command) else None
    if effect is None:
        return Settle.UNCHECKABLE
    if effect:
        return Settle.DONE
    return Settle.FAILED if absent + 1 >= ABSENT_TO_FAIL or last else Settle.RETRY


def next_check_delay(checks: int, delays: Sequence[float] = SETTLE_DELAYS) -> float:
    """Seconds until the next read after `checks` reads (the last delay repeats)."""
    return float(delays[min(checks, len(delays) - 1)])


def resumed_confirmation(confirmation: dict[str, Any] | None, ledger: list[dict[str, Any]]) -> bool:
    """A YES turn resumed after a crash: the sender's latest confirmation is already 'confirmed' and this
    turn's own audit rows (`ledger`) are steps of it, so this turn confirmed it before the crash."""
    if not confirmation or confirmation.get("status") != "confirmed" or not ledger:
        return False
    payload = confirmation.get("payload") or {}
    if payload.get("kind") != "steps":
        return False
    steps = {(str(s[0]), str(s[1])) for s in payload.get("steps", []) if len(s) >= 2}
    return all((row["device_id"], row["command"]) in steps for row in ledger)


# words ---------------------------------------------------------------------------------------------
_EFFECTS = {  # what the device "may still" do / "did" do: an intransitive phrase after "it"
    "turn_on": "switch on", "turn_off": "switch off", "set_brightness": "change to {brightness}%",
    "set_color": "change colour", "play": "start playing", "pause": "pause", "stop": "stop",
    "next": "skip to the next track", "previous": "go back a track", "set_volume": "change its volume to {volume}%",
    "set_mute": "{mute}", "play_favorite": "play {favorite}",
    "set_temperature": "change its target to {temperature} °C",
    "set_hvac_mode": "switch to {mode} mode", "open": "open", "close": "close",
    "set_position": "move to {position}% open", "lock": "lock", "unlock": "unlock",
}


def effect_phrase(command: str, args: dict[str, Any]) -> str:
    """"unlock", "change to 30%": what the device does, to follow "it may still" or "it did"."""
    fields = {k: f"{v:g}" if isinstance(v, float) else v for k, v in args.items()}
    fields["mute"] = "mute" if args.get("muted") else "unmute"
    try:
        return _EFFECTS[command].format(**fields)
    except (KeyError, IndexError):
        return f"carry out {command.replace('_', ' ')}"


def the(name: str) -> str:
    """"the front door" (device names are stored without an article)."""
    return name if name.lower().startswith("the ") else f"the {name}"
