"""The system channel (routines, camera alerts) speaks as the owner and is answered on the owner's route; a
turn reads the sender's standing from the stored message instead of deriving it again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from claw.agent.actuator import TurnContext
from claw.agent.loop import received
from claw.channels.notify import SYSTEM
from claw.events import InboundMessage, Standing, TurnResult
from claw.replies.conversation import confirm_prompt, nothing_pending_reply
from claw.runtime import Claw
from devices.sim.home import SimHome
from memory.store import Store
from tests.conftest import running_claw
from tests.fakes.twilio_server import FakeTwilio
from tests.test_whatsapp_send import twilio_settings

ROUTINE = "routine:good-night"
OWNER_WA = "whatsapp:+15551230001"  # the first (only) owner of twilio_settings()
OTHER_WA = "whatsapp:+15551230002"


@pytest.fixture
def home(shared_home: SimHome) -> SimHome:
    shared_home.reset()
    return shared_home


@pytest.fixture
async def claw(home: SimHome, tmp_path: Path) -> AsyncIterator[Claw]:
    """No WhatsApp: the owner's route is the web chat."""
    async with running_claw(home, tmp_path) as c:
        yield c


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with FakeTwilio() as f:
        yield f


@pytest.fixture
async def wa_claw(home: SimHome, tmp_path: Path, fake: FakeTwilio) -> AsyncIterator[Claw]:
    """WhatsApp with one owner number: the owner's route is that number."""
    async with running_claw(home, tmp_path, twilio=twilio_settings(fake)) as c:
        yield c


async def send(claw: Claw, channel: str, sender: str, text: str, standing: Standing = "owner") -> TurnResult:
    msg = InboundMessage(channel=channel, sender=sender, text=text, standing=standing)
    return await asyncio.wait_for(claw.agent.ask(msg), 20)


async def routine(claw: Claw, text: str) -> TurnResult:
    return await send(claw, SYSTEM, ROUTINE, text)


def sent_to(claw: Claw, result: TurnResult) -> list[tuple[str, str]]:
    return [(r["channel"], r["recipient"]) for r in claw.store.outbox_for_inbox(result.inbox_id or 0)]


def sent_text(claw: Claw, result: TurnResult) -> str:
    return " ".join(r["text"] for r in claw.store.outbox_for_inbox(result.inbox_id or 0))


def unlock_prompt(claw: Claw) -> str:
    return confirm_prompt("unlock the front door", "unlocking a door", claw.settings.safety.confirm_seconds,
                          claw.soul.current().voice)


# ---- a routine acts, and its reply reaches the owner ------------------------------------------------
async def test_system_message_acts_and_its_reply_goes_to_the_owner_web_chat(claw: Claw, home: SimHome) -> None:
    result = await routine(claw, "turn on the kitchen light")
    assert result.tier == "intent" and result.reply.startswith("Done")
    assert home.sim("kitchen light").state["on"] is True
    assert sent_to(claw, result) == [("web", claw.settings.owner)]
    assert sent_text(claw, result) == result.reply


async def test_system_message_reply_goes_to_the_first_whatsapp_owner(wa_claw: Claw, home: SimHome) -> None:
    result = await routine(wa_claw, "turn on the kitchen light")
    assert home.sim("kitchen light").state["on"] is True
    assert sent_to(wa_claw, result) == [("whatsapp", OWNER_WA)]


# ---- a risky step from a routine waits for the owner's YES on the owner's channel -------------------
async def test_system_unlock_asks_the_owner_on_web_and_the_owners_yes_unlocks(claw: Claw, home: SimHome) -> None:
    lock = home.sim("front door")
    asked = await routine(claw, "unlock the front door")
    assert asked.tier == "confirm"
    assert lock.state["locked"] is True and home.physical_commands() == 0
    assert asked.reply.endswith(unlock_prompt(claw)), asked.reply
    assert sent_to(claw, asked) == [("web", claw.settings.owner)]
    assert sent_text(claw, asked).endswith(unlock_prompt(claw))
    assert claw.store.confirmation_pending(claw.settings.owner, time.time()) is not None
    assert claw.store.confirmation_pending(ROUTINE, time.time()) is None

    confirmed = await send(claw, "web", claw.settings.owner, "yes")
    assert confirmed.tier == "confirm"
    assert lock.state["locked"] is False and len(lock.commands) == 1
    assert home.physical_commands() == 1


async def test_system_unlock_is_confirmed_by_the_whatsapp_owner(wa_claw: Claw, home: SimHome) -> None:
    lock = home.sim("front door")
    asked = await routine(wa_claw, "unlock the front door")
    assert lock.state["locked"] is True and home.physical_commands() == 0
    assert sent_to(wa_claw, asked) == [("whatsapp", OWNER_WA)]
    assert sent_text(wa_claw, asked).endswith(unlock_prompt(wa_claw))

    await send(wa_claw, "whatsapp", OWNER_WA, "yes")
    assert lock.state["locked"] is False and home.physical_commands() == 1


async def test_a_routine_cannot_answer_its_own_confirmation(claw: Claw, home: SimHome) -> None:
    await routine(claw, "unlock the front door")
    answered = await routine(claw, "yes")
    assert answered.reply == nothing_pending_reply(claw.soul.current().voice)
    assert home.sim("front door").state["locked"] is True and home.physical_commands() == 0
    assert claw.store.confirmation_pending(claw.settings.owner, time.time()) is not None  # still the owner's


# ---- standing is what the channel stored, never derived again ---------------------------------------
async def test_a_console_message_stored_as_guest_is_a_guest(claw: Claw, home: SimHome) -> None:
    refused = await send(claw, "console", claw.settings.owner, "unlock the front door", standing="guest")
    assert "only the owner can unlock the front door" in refused.reply.lower()
    assert claw.store.confirmation_pending(claw.settings.owner, time.time()) is None
    soul = await send(claw, "console", claw.settings.owner, "be more formal", standing="guest")
    assert "only the owner can change how i talk" in soul.reply.lower()
    assert home.sim("front door").state["locked"] is True and home.physical_commands() == 0


async def test_a_whatsapp_owner_number_stored_as_guest_is_a_guest(wa_claw: Claw, home: SimHome) -> None:
    refused = await send(wa_claw, "whatsapp", OWNER_WA, "unlock the front door", standing="guest")
    assert "only the owner can unlock the front door" in refused.reply.lower()
    assert wa_claw.store.confirmation_pending(OWNER_WA, time.time()) is None
    assert home.sim("front door").state["locked"] is True and home.physical_commands() == 0


async def test_a_number_stored_as_owner_confirms_as_the_owner(wa_claw: Claw, home: SimHome) -> None:
    """The stored standing, not the channel's name or the owner list, decides: an unlisted number the channel
    stored as the owner is the owner."""
    asked = await send(wa_claw, "whatsapp", OTHER_WA, "unlock the front door", standing="owner")
    assert asked.reply.endswith(unlock_prompt(wa_claw))
    await send(wa_claw, "whatsapp", OTHER_WA, "yes", standing="owner")
    assert home.sim("front door").state["locked"] is False


# ---- legacy rows (standing NULL) fall back to the old derivation, in one place ----------------------
def legacy_row(store: Store, channel: str, sender: str, text: str = "hi") -> dict[str, Any]:
    inbox_id, _ = store.inbox_add(InboundMessage(channel=channel, sender=sender, text=text))
    store._write("UPDATE inbox SET standing = NULL WHERE id = ?", (inbox_id,))
    row = store.inbox_get(inbox_id)
    assert row is not None and row["standing"] is None
    return row


@pytest.mark.parametrize(("channel", "sender", "standing"), [
    ("console", "owner", "owner"), ("web", "owner", "owner"), ("whatsapp", OWNER_WA, "owner"),
    ("whatsapp", OTHER_WA, "guest"), ("whatsapp", "whatsapp:+1 555 123 0001", "owner"),
])
def test_legacy_rows_derive_standing_as_before(store: Store, channel: str, sender: str, standing: str) -> None:
    got = received(legacy_row(store, channel, sender), ["+15551230001"])
    assert got.message.standing == standing
    assert (got.message.channel, got.message.sender, got.message.text) == (channel, sender, "hi")


def test_stored_standing_wins_over_the_old_derivation(store: Store) -> None:
    inbox_id, _ = store.inbox_add(InboundMessage("console", "owner", "hi", standing="guest"))
    row = store.inbox_get(inbox_id)
    assert row is not None and received(row, []).message.standing == "guest"


async def test_a_legacy_console_row_is_resumed_as_the_owner(claw: Claw, home: SimHome) -> None:
    row = legacy_row(claw.store, "console", claw.settings.owner, "unlock the front door")
    assert claw.agent.resume() == 1
    await claw.agent.idle()
    assert sent_text(claw, TurnResult(reply="", tier="", inbox_id=row["id"])).endswith(unlock_prompt(claw))
    assert home.sim("front door").state["locked"] is True


# ---- the turn context -------------------------------------------------------------------------------
def test_turn_context_confirms_as_the_sender_unless_told_otherwise() -> None:
    plain = TurnContext(inbox_id=1, sender="owner", channel="console", text="")
    assert plain.confirm_as == "owner"
    routed = TurnContext(inbox_id=1, sender=ROUTINE, channel=SYSTEM, text="", confirm_as="owner")
    assert routed.confirm_as == "owner" and routed.sender == ROUTINE
    guest = TurnContext(inbox_id=1, sender=OTHER_WA, channel="whatsapp", text="", standing="guest")
    assert guest.is_owner is False and guest.standing == "guest"


async def test_a_late_outcome_of_a_system_turn_is_told_to_the_owner_not_to_the_system_channel(
        own_home: SimHome, tmp_path: Path) -> None:
    """The settler's follow-up is routed like every message: a routine's "it did lock after all" reaches the owner."""
    lock = own_home.sim("front door")
    lock.state["locked"] = False
    async with running_claw(own_home, tmp_path, device_timeout=1.0) as c:
        c.settler.delays = (0.2, 0.3, 0.5, 1.0, 2.0)
        lock.hang = True
        result = await send(c, SYSTEM, "routine:night", "lock the front door")
        assert "may still lock" in result.reply, result.reply
        lock.hang = False  # the lock recovers and carries out the lock it was sent
        deadline = time.monotonic() + 10
        rows: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not rows:
            rows = list(c.store.db.query("SELECT * FROM outbox WHERE proactive = 1"))
            await asyncio.sleep(0.05)
        assert [(r["channel"], r["recipient"]) for r in rows] == [("web", c.settings.owner)]
        assert "did lock after all" in rows[0]["text"]
