"""Trust boundaries: "done" only with evidence after a crash, and "may still happen" (then settled) after a timeout."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claw.agent.recovery import Resume, Settle, resume_verdict, settle_verdict
from claw.events import InboundMessage, TurnResult
from claw.runtime import Claw
from devices.drivers.http import HttpDriver, http_device_from_info
from devices.effects import IDEMPOTENT, checkable, shows_effect
from devices.errors import DeviceOutcomeUnknown, DeviceUnavailable
from devices.registry import Registry
from devices.sim.home import SimHome
from devices.sim.http_devices import SimLock
from memory.store import Store
from tests.conftest import make_settings, running_claw
from tests.fakes.openai_server import ScriptedOpenAI
from tests.test_durability import ClawProcesses, pending_row, post_in_background, replies_sent, row_status, wait_for

OWNER = "owner"


def device_id(home: SimHome, name: str) -> str:
    return next(d.id for d in home.devices if d.name == name)


def crashed_turn(db_path: Path, text: str, steps: list[tuple[str, str]], sender: str = OWNER) -> int:
    """Leave the database as a SIGKILL mid-command would: the turn 'working', its steps claimed 'started'."""
    with Store(db_path) as store:
        inbox_id, _ = store.inbox_add(InboundMessage("console", sender, text, standing="owner"))
        store.inbox_mark_working(inbox_id)
        for seq, (dev, command) in enumerate(steps, 1):
            assert store.audit_begin(f"{inbox_id}:{seq}:{dev}:{command}", dev, command, {}, inbox_id, sender) is None
    return inbox_id


def confirmed(db_path: Path, steps: list[tuple[str, str]], summary: str, sender: str = OWNER) -> None:
    """A confirmation the owner answered YES to (resolved before the YES turn started acting)."""
    with Store(db_path) as store:
        cid = store.confirmation_add(sender, summary, {"kind": "steps", "steps": [[d, c, {}] for d, c in steps]},
                                     time.time() + 120)
        assert store.confirmation_resolve(cid, "confirmed")


async def resumed(tmp_path: Path, home: SimHome, inbox_id: int, **settings: Any) -> tuple[Claw, str]:
    """Start a claw on the crashed data dir; it resumes the turn. Returns the claw and the turn's reply."""
    claw = Claw(make_settings(tmp_path, **{"device_timeout": 1.0, **settings}), devices=home.devices)
    await claw.start()
    await claw.agent.idle()
    row = claw.store.inbox_get(inbox_id)
    assert row is not None and row["status"] == "done", row
    return claw, " ".join(r["text"] for r in claw.store.outbox_for_inbox(inbox_id))


def audit(claw: Claw, inbox_id: int) -> list[tuple[str, str]]:
    return [(r["command"], r["status"]) for r in claw.store.audit_for_inbox(inbox_id)]


async def say(claw: Claw, text: str) -> TurnResult:
    return await claw.agent.ask(InboundMessage("console", OWNER, text, standing="owner"))


async def eventually(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        await asyncio.sleep(0.05)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


# ---- the pure decisions ---------------------------------------------------------------------------
LIGHT = {"power": True, "brightness": 30, "rgb": [255, 0, 0], "available": True}
SPEAKER = {"playback": "paused", "volume": 20, "muted": False, "title": "x", "artist": "y", "available": True}
THERMOSTAT = {"hvac_mode": "heat", "power": True, "target_temperature": 21.0, "current_temperature": 19.0}


@pytest.mark.parametrize(("command", "args", "state", "expected"), [
    ("turn_on", {}, LIGHT, True),
    ("turn_off", {}, LIGHT, False),
    ("turn_on", {}, SPEAKER, False),  # a Sonos player is "on" when it plays
    ("turn_off", {}, SPEAKER, True),
    ("set_brightness", {"brightness": 31}, LIGHT, True),  # ±1
    ("set_brightness", {"brightness": 32}, LIGHT, False),
    ("set_color", {"rgb": [255, 0, 0]}, LIGHT, True),
    ("lock", {}, {"locked": True}, True),
    ("lock", {}, {"locked": False}, False),
    ("unlock", {}, {"locked": False}, True),
    ("open", {}, {"position": 100}, True),
    ("close", {}, {"position": 100}, False),
    ("set_position", {"position": 40}, {"position": 40}, True),
    ("set_temperature", {"temperature": 21.0}, THERMOSTAT, True),
    ("set_temperature", {"temperature": 22.0}, THERMOSTAT, False),
    ("set_hvac_mode", {"mode": "heat"}, THERMOSTAT, True),
    ("set_volume", {"volume": 20}, SPEAKER, True),
    ("set_mute", {"muted": True}, SPEAKER, False),
    ("pause", {}, SPEAKER, True),
    ("play", {}, SPEAKER, False),
    ("next", {}, SPEAKER, None),  # a state does not show a skip
    ("previous", {}, SPEAKER, None),
    ("play_favorite", {"favorite": "Jazz"}, SPEAKER, None),
    ("lock", {}, None, None),  # unreadable
    ("lock", {}, {"available": False}, None),
    ("lock", {}, LIGHT, None),  # the state has no such key
])
def test_shows_effect(command: str, args: dict[str, Any], state: dict[str, Any] | None, expected: bool | None) -> None:
    assert shows_effect(command, args, state) is expected


def test_resume_and_settle_verdicts() -> None:
    assert resume_verdict("lock", {}, {"locked": True}, risky=False) is Resume.DONE
    assert resume_verdict("lock", {}, {"locked": False}, risky=False) is Resume.REDO
    assert resume_verdict("unlock", {}, {"locked": False}, risky=True) is Resume.DONE  # evidence, no YES needed
    assert resume_verdict("unlock", {}, {"locked": True}, risky=True) is Resume.ASK  # never repeated unasked
    assert resume_verdict("lock", {}, None, risky=False) is Resume.ASK  # cannot read: ask
    assert resume_verdict("next", {}, SPEAKER, risky=False) is Resume.ASK  # not idempotent
    assert "next" not in IDEMPOTENT and not checkable("next") and "lock" in IDEMPOTENT
    assert settle_verdict("unlock", {}, {"locked": False}, 0, 0) is Settle.DONE
    assert settle_verdict("unlock", {}, {"locked": True}, 0, 0) is Settle.RETRY  # it may race the late command
    assert settle_verdict("unlock", {}, {"locked": True}, 1, 1) is Settle.FAILED
    assert settle_verdict("unlock", {}, None, 1, 0, max_checks=3) is Settle.RETRY
    assert settle_verdict("unlock", {}, None, 2, 0, max_checks=3) is Settle.UNREADABLE
    assert settle_verdict("next", {}, SPEAKER, 0, 0) is Settle.UNCHECKABLE


# ---- (a) a turn resumed after a crash mid-command ----------------------------------------------------
async def test_started_lock_with_the_door_unlocked_is_done_once_and_reported_after_the_state_shows_it(
        own_home: SimHome, tmp_path: Path) -> None:
    lock = own_home.sim("front door")
    lock.reset({"locked": False})  # the crash came before the command reached the lock
    door = device_id(own_home, "front door")
    inbox_id = crashed_turn(tmp_path / "data" / "claw.db", "lock the front door", [(door, "lock")])
    claw, reply = await resumed(tmp_path, own_home, inbox_id)
    try:
        assert lock.commands == [("POST /api/state", {"locked": True})], "locked exactly once"
        assert lock.state["locked"] is True
        assert audit(claw, inbox_id) == [("lock", "done")]
        assert "front door" in reply and "may" not in reply and "interrupted" not in reply, reply
    finally:
        await claw.stop()


async def test_started_lock_already_locked_is_done_without_sending_again(own_home: SimHome, tmp_path: Path) -> None:
    lock = own_home.sim("front door")  # locked: the command got there before the crash
    door = device_id(own_home, "front door")
    inbox_id = crashed_turn(tmp_path / "data" / "claw.db", "lock the front door", [(door, "lock")])
    claw, reply = await resumed(tmp_path, own_home, inbox_id)
    try:
        assert lock.commands == [], "the simulator saw no second command"
        assert audit(claw, inbox_id) == [("lock", "done")]
        assert "front door" in reply and "YES" not in reply, reply
    finally:
        await claw.stop()


async def test_started_unlock_with_the_door_still_locked_is_not_repeated_and_a_yes_reruns_it(
        own_home: SimHome, tmp_path: Path) -> None:
    lock = own_home.sim("front door")
    door = device_id(own_home, "front door")
    db = tmp_path / "data" / "claw.db"
    Store(db).close()
    confirmed(db, [(door, "unlock")], "unlock the front door")
    inbox_id = crashed_turn(db, "YES", [(door, "unlock")])  # the YES turn was cut off mid-unlock
    claw, reply = await resumed(tmp_path, own_home, inbox_id)
    try:
        assert lock.commands == [] and lock.state["locked"] is True, "a risky action is never repeated unasked"
        assert "unlock the front door" in reply and "did not happen" in reply and "YES" in reply, reply
        assert "Done" not in reply and "unlocked" not in reply.replace("not happen", ""), reply
        assert audit(claw, inbox_id) == [("unlock", "unknown")]
        pending = claw.store.confirmation_pending(OWNER, time.time())
        assert pending is not None and pending["payload"]["steps"] == [[door, "unlock", {}]]

        yes = await say(claw, "YES")
        assert lock.commands == [("POST /api/state", {"locked": False})]
        assert lock.state["locked"] is False
        assert "front door" in yes.reply and "did not" not in yes.reply, yes.reply
    finally:
        await claw.stop()


async def test_started_unlock_that_happened_is_done_without_a_yes(own_home: SimHome, tmp_path: Path) -> None:
    lock = own_home.sim("front door")
    lock.reset({"locked": False})  # the unlock reached the lock before the crash
    door = device_id(own_home, "front door")
    db = tmp_path / "data" / "claw.db"
    Store(db).close()
    confirmed(db, [(door, "unlock")], "unlock the front door")
    inbox_id = crashed_turn(db, "yes", [(door, "unlock")])
    claw, reply = await resumed(tmp_path, own_home, inbox_id)
    try:
        assert lock.commands == []
        assert audit(claw, inbox_id) == [("unlock", "done")]
        assert "front door" in reply and "YES" not in reply and "nothing" not in reply.lower(), reply
    finally:
        await claw.stop()


async def test_started_lock_on_an_unreadable_lock_asks_instead_of_claiming(own_home: SimHome, tmp_path: Path) -> None:
    lock = own_home.sim("front door")
    lock.reset({"locked": False})
    lock.stop()
    door = device_id(own_home, "front door")
    inbox_id = crashed_turn(tmp_path / "data" / "claw.db", "lock the front door", [(door, "lock")])
    claw, reply = await resumed(tmp_path, own_home, inbox_id)
    try:
        assert "not answering" in reply and "can't tell" in reply and "YES" in reply, reply
        assert "Done" not in reply, reply
        assert audit(claw, inbox_id) == [("lock", "unknown")]
        lock.start()
        yes = await say(claw, "yes")
        assert lock.commands == [("POST /api/state", {"locked": True})] and lock.state["locked"] is True
        assert "front door" in yes.reply
    finally:
        await claw.stop()


# ---- timeouts: one number, "may still happen", and the settler -------------------------------------
def test_one_configured_timeout_governs_the_registry_and_the_http_driver(tmp_path: Path) -> None:
    claw = Claw(make_settings(tmp_path, device_timeout=7.5))
    try:
        http = claw.registry._drivers["http"]
        assert claw.registry.timeout == 7.5 and getattr(http, "timeout", None) == 7.5
    finally:
        claw.store.close()


async def unlock_while_hung(claw: Claw, home: SimHome) -> TurnResult:
    """Ask to unlock, hang the lock, answer YES: the confirmed unlock times out."""
    prompt = await say(claw, "unlock the front door")
    assert "YES" in prompt.reply
    home.sim("front door").hang = True
    started = time.monotonic()
    result = await say(claw, "YES")
    assert time.monotonic() - started < 3
    return result


def followups(claw: Claw) -> list[dict[str, Any]]:
    rows = claw.store.db.query("SELECT * FROM outbox WHERE proactive = 1 ORDER BY id")
    return list(rows)


async def test_a_timed_out_unlock_that_happens_later_is_unknown_then_settled_done(own_home: SimHome,
                                                                                  tmp_path: Path) -> None:
    lock = own_home.sim("front door")
    async with running_claw(own_home, tmp_path, device_timeout=1.0) as claw:
        claw.settler.delays = (0.2, 0.3, 0.5, 1.0, 2.0)
        result = await unlock_while_hung(claw, own_home)
        assert "did not answer within 1 s" in result.reply and "may still unlock" in result.reply, result.reply
        assert "check" in result.reply and "Done" not in result.reply and "didn't work" not in result.reply
        assert result.actions == ()
        rows = claw.store.audit_for_inbox(result.inbox_id or 0)
        assert [(r["command"], r["status"]) for r in rows] == [("unlock", "unknown")], "not 'failed'"

        lock.hang = False  # the lock recovers and carries out the unlock it was sent
        await eventually(lambda: lock.state["locked"] is False, 5, "the late unlock")
        sent = await eventually(lambda: followups(claw), 10, "the settler's follow-up")
        assert [r["text"] for r in sent] == ["Update: the front door did unlock after all."]
        assert (sent[0]["channel"], sent[0]["recipient"]) == ("console", OWNER)
        assert claw.store.audit_for_inbox(result.inbox_id or 0)[0]["status"] == "done"
        assert len(lock.commands) == 1, "settling never sends the command again"
        await asyncio.sleep(0.6)
        assert len(followups(claw)) == 1, "told once"


async def test_a_timed_out_unlock_that_was_lost_is_settled_failed(own_home: SimHome, tmp_path: Path) -> None:
    lock = own_home.sim("front door")
    async with running_claw(own_home, tmp_path, device_timeout=1.0) as claw:
        claw.settler.delays = (0.2, 0.2, 0.2, 0.2, 0.2)
        result = await unlock_while_hung(claw, own_home)
        assert "may still unlock" in result.reply
        lock.stop()  # the request is dropped, and the lock comes back without it
        lock.hang = False
        lock.start()
        sent = await eventually(lambda: followups(claw), 10, "the settler's follow-up")
        assert [r["text"] for r in sent] == ["Update: the front door did not unlock after all. "
                                             "Ask me again if you still want it."]
        assert claw.store.audit_for_inbox(result.inbox_id or 0)[0]["status"] == "failed"
        assert lock.commands == [] and lock.state["locked"] is True


async def test_a_timed_out_unlock_on_a_lock_that_never_answers_says_it_cannot_tell(
        own_home: SimHome, tmp_path: Path) -> None:
    lock = own_home.sim("front door")
    async with running_claw(own_home, tmp_path, device_timeout=0.5) as claw:
        claw.settler.delays = (0.1, 0.1, 0.1)
        prompt = await say(claw, "unlock the front door")
        assert "YES" in prompt.reply
        lock.hang = True
        result = await say(claw, "YES")
        assert "may still unlock" in result.reply
        sent = await eventually(lambda: followups(claw), 10, "the settler's follow-up")
        assert "can't tell whether it did unlock" in sent[0]["text"], sent[0]["text"]
        row = claw.store.audit_for_inbox(result.inbox_id or 0)[0]
        assert row["status"] == "unknown" and row["settled_at"] is not None and row["checks"] == 3
        lock.hang = False


async def test_a_connection_broken_off_after_sending_is_unknown_and_a_refused_one_is_failed() -> None:
    lock = SimLock(name="Back Door").start()
    registry = Registry(drivers={"http": HttpDriver(timeout=5.0)}, timeout=5.0)
    try:
        registry.add(await http_device_from_info(lock.address, "claw-sim-lock", "hall"))
        door = f"serial:{lock.serial}"
        lock.hang = True
        sent = asyncio.create_task(registry.execute(door, "unlock"))
        await asyncio.sleep(0.3)  # the request is at the lock
        lock.stop()  # it goes away without answering
        with pytest.raises(DeviceOutcomeUnknown, match="Back Door broke off the connection"):
            await sent
        with pytest.raises(DeviceUnavailable, match="Back Door is not reachable") as refused:
            await registry.execute(door, "unlock")  # nothing listens: nothing was sent
        assert not isinstance(refused.value, DeviceOutcomeUnknown)
    finally:
        await registry.close()
        lock.stop()


# ---- (b) the SIGKILL story: `claw run` killed while a lock command hangs ----------------------------
pytestmark_kill = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
LOCK_TEXT = "lock the front door"


def audit_rows(db_path: Path) -> list[dict[str, Any]]:
    if not db_path.exists():
        return []
    with Store(db_path) as store:
        return store.audit_recent(10)


def kill_mid_lock(claws: ClawProcesses, home: SimHome) -> int:
    """Send "lock the front door" to a `claw run` whose lock hangs, SIGKILL it mid-command; the inbox id."""
    lock = home.sim("front door")
    proc, url = claws.start()
    with post_in_background(url, LOCK_TEXT) as outcome:
        wait_for(lambda: any(r["status"] == "started" for r in audit_rows(claws.db_path)), 20,
                 "the lock command to be claimed", (proc,), claws.logs)
        time.sleep(0.3)  # the request reaches the lock and hangs there
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    assert "response" not in outcome
    assert lock.commands == [] and lock.state["locked"] is False
    row = pending_row(claws.db_path, LOCK_TEXT)
    assert [(r["command"], r["status"]) for r in audit_rows(claws.db_path)] == [("lock", "started")]
    return int(row["id"])


def sent_reply(claws: ClawProcesses, inbox_id: int, proc: Any) -> str:
    wait_for(lambda: row_status(claws.db_path, inbox_id) == "done", 30, "the resumed turn", (proc,), claws.logs)
    wait_for(lambda: replies_sent(claws.db_path, inbox_id), 10, "the reply to leave the outbox", (proc,),
             claws.logs)
    with Store(claws.db_path) as store:
        return " ".join(r["text"] for r in store.outbox_for_inbox(inbox_id))


@pytestmark_kill
def test_sigkill_mid_lock_then_the_lock_works_again_locks_once_and_says_so(home: SimHome, tmp_path: Path) -> None:
    lock = home.sim("front door")
    lock.reset({"locked": False})
    lock.hang = True
    llm = ScriptedOpenAI(model="scripted").start()
    claws = ClawProcesses(tmp_path, home, llm)
    claws.env["CLAW_DEVICE_TIMEOUT"] = "10"
    try:
        inbox_id = kill_mid_lock(claws, home)
        lock.stop()  # the lock restarts: the hanging request is dropped, unapplied
        lock.hang = False
        lock.start()
        proc2, _ = claws.start()
        reply = sent_reply(claws, inbox_id, proc2)
        assert lock.commands == [("POST /api/state", {"locked": True})], "locked once, after reading the state"
        assert lock.state["locked"] is True
        assert reply == "Done — front door is locked.", reply
        assert [(r["command"], r["status"]) for r in audit_rows(claws.db_path)] == [("lock", "done")]
    finally:
        claws.kill_all()
        llm.stop()


@pytestmark_kill
def test_sigkill_mid_lock_with_the_lock_still_broken_says_it_is_uncertain(home: SimHome, tmp_path: Path) -> None:
    lock = home.sim("front door")
    lock.reset({"locked": False})
    lock.hang = True
    llm = ScriptedOpenAI(model="scripted").start()
    claws = ClawProcesses(tmp_path, home, llm)
    claws.env["CLAW_DEVICE_TIMEOUT"] = "10"
    try:
        inbox_id = kill_mid_lock(claws, home)
        claws.env["CLAW_DEVICE_TIMEOUT"] = "1"
        proc2, _ = claws.start()
        reply = sent_reply(claws, inbox_id, proc2)
        assert "lock the front door" in reply and "can't tell" in reply and "YES" in reply, reply
        assert "Done" not in reply and "is locked" not in reply, reply
        assert lock.commands == [] and lock.state["locked"] is False, "nothing was claimed or done"
        assert [(r["command"], r["status"]) for r in audit_rows(claws.db_path)] == [("lock", "unknown")]
        with Store(claws.db_path) as store:
            assert store.confirmation_pending(pending_row_sender(store, inbox_id), time.time()) is not None
    finally:
        lock.stop()  # drop the request still hanging from the killed claw
        claws.kill_all()
        llm.stop()


def pending_row_sender(store: Store, inbox_id: int) -> str:
    row = store.inbox_get(inbox_id)
    assert row is not None
    return str(row["sender"])
