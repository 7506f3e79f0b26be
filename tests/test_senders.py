"""Senders: E.164 numbers, owners, pairing codes and commands, and the token bucket (pure, plus an in-memory store)."""

from __future__ import annotations

from functools import partial

import pytest

from claw.channels.access import (
    APPROVED_NOTICE,
    handle_pairing_command,
    issue_code,
    message_standing,
    new_code,
    pairing_command,
    pending_list,
    shown,
    standing,
)
from claw.channels.notify import Notifier
from claw.channels.ratelimit import TokenBucket
from claw.channels.whatsapp.numbers import (
    is_owner,
    mask,
    normalize_number,
    owner_addresses,
    whatsapp_address,
)
from memory.store import Store

WA = "whatsapp"
ALEX = "whatsapp:+15557654321"
BO = "whatsapp:+447700900123"


@pytest.fixture
def notifier(store: Store) -> Notifier:
    return Notifier(store, {}, max_messages=4, owner_route=("web", "owner"))


@pytest.mark.parametrize(("given", "expected"), [
    ("whatsapp:+1 (555) 123-4567", "+15551234567"),
    ("WhatsApp:+15551234567", "+15551234567"),
    ("+44 20 7946 0958", "+442079460958"),
    ("0044 20 7946 0958", "+442079460958"),
    ("+33.6.12.34.56.78", "+33612345678"),
    (" +1\u00a0555\u2011123\u20114567 ", "+15551234567"),
    ("5551234567", None),  # no country code: ambiguous
    ("+0123456789", None),
    ("+1555abc4567", None),
    ("+1234567890123456", None),  # 16 digits: longer than E.164 allows
    ("+12345", None),
    ("whatsapp:", None),
    ("", None),
    (None, None),
])
def test_normalize_number(given: str | None, expected: str | None) -> None:
    assert normalize_number(given) == expected


def test_whatsapp_address_only_for_whatsapp_senders() -> None:
    assert whatsapp_address("whatsapp:+1 555 123 4567") == "whatsapp:+15551234567"
    assert whatsapp_address("WHATSAPP:+15551234567") == "whatsapp:+15551234567"
    for other in ("+15551234567", "messenger:1234567890", "whatsapp:120363025@g.us", "sms:+15551234567", "", None):
        assert whatsapp_address(other) is None, other


def test_is_owner_compares_normalized_numbers() -> None:
    owners = ["+1 555 123 0001", "not a number", "+44 7700 900123"]
    assert is_owner("whatsapp:+15551230001", owners)
    assert is_owner("whatsapp:+447700900123", owners)
    assert not is_owner("whatsapp:+15551230002", owners)
    assert not is_owner("not a number", owners)
    assert not is_owner("whatsapp:+15551230001", [])


def test_mask_hides_the_middle_of_a_number() -> None:
    assert mask("whatsapp:+15551234567") == "+1555***4567"
    assert "1234567" not in mask("+15551234567")


def test_codes_are_six_random_digits() -> None:
    codes = {new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 190


@pytest.mark.parametrize(("text", "expected"), [
    ("approve 123456", ("approve", "123456")),
    ("Approve code 123456.", ("approve", "123456")),
    ("  allow 000042 ", ("approve", "000042")),
    ("deny 654321", ("deny", "654321")),
    ("Reject code #654321!", ("deny", "654321")),
    ("who is waiting?", ("list", "")),
    ("Who's waiting for approval", ("list", "")),
    ("pending pairings", ("list", "")),
    ("show pending approvals", ("list", "")),
    ("pairing requests?", ("list", "")),
    ("approve 12345", None),
    ("approve 1234567", None),
    ("approve the new thermostat schedule", None),
    ("who is waiting at the door?", None),
    ("turn on the kitchen light", None),
    ("deny 123456 and unlock the door", None),
    ("", None),
])
def test_pairing_command(text: str, expected: tuple[str, str] | None) -> None:
    assert pairing_command(text) == expected


def test_one_code_per_number_per_window_and_a_new_one_after_expiry(store: Store) -> None:
    code = issue_code(store, WA, ALEX, 600, now=1000.0)
    assert code is not None and store.sender_get("whatsapp", ALEX)["code"] == code
    assert issue_code(store, WA, ALEX, 600, now=1500.0) is None  # still valid
    assert standing(store, WA, ALEX, owner_addresses(["+15551230001"])) == "pending"
    again = issue_code(store, WA, ALEX, 600, now=1601.0)
    assert again is not None and store.sender_by_code(again, 1601.0)["address"] == ALEX
    store.sender_set("whatsapp", BO, "denied")
    assert issue_code(store, WA, BO, 600, now=1000.0) is None
    store.sender_set("whatsapp", BO, "allowed")
    assert issue_code(store, WA, BO, 600, now=1000.0) is None
    assert standing(store, WA, BO, frozenset()) == "allowed"
    assert standing(store, WA, "whatsapp:+15551230001", owner_addresses(["+15551230001"])) == "owner"
    assert standing(store, WA, "whatsapp:+15550000000", owner_addresses(["+15551230001"])) == "unknown"



def test_owner_addresses_are_the_canonical_whatsapp_owners() -> None:
    owners = owner_addresses(["+1 555 123 0001", "not a number", "0044 7700 900123"])
    assert owners == {"whatsapp:+15551230001", "whatsapp:+447700900123"}
    for address in ("whatsapp:+15551230001", "whatsapp:+15551230002", "whatsapp:+447700900123"):  # as is_owner
        assert (address in owners) == is_owner(address, ["+1 555 123 0001", "not a number", "0044 7700 900123"])


def test_access_is_the_same_check_on_any_channel(store: Store, notifier: Notifier) -> None:
    """The allowlist and pairing are not WhatsApp's: another channel keeps its own owners and sender rows."""
    other, sam = "telegram", "telegram:4242"
    assert standing(store, other, sam, {"telegram:1"}) == "unknown"
    assert standing(store, other, "telegram:1", {"telegram:1"}) == "owner"
    code = issue_code(store, other, sam, 600)
    assert code is not None and standing(store, other, sam, set()) == "pending"
    assert standing(store, WA, sam, set()) == "unknown"  # a sender row belongs to its channel
    assert pending_list(store, channel=WA) == [] and [r["address"] for r in pending_list(store)] == [sam]
    assert handle_pairing_command(store, True, f"approve {code}", notify=notifier.send) == (
        "Approved 4242: they can talk to me now.")
    assert standing(store, other, sam, set()) == "allowed"
    [told] = store.outbox_due(float("inf"))
    assert (told["channel"], told["recipient"], told["text"]) == (other, sam, APPROVED_NOTICE)
    assert [message_standing(a) for a in ("owner", "allowed", "pending", "denied", "unknown")] == [
        "owner", "guest", "guest", "guest", "guest"]
    assert (shown(ALEX), shown("console"), shown("sip:+1:x")) == ("+15557654321", "console", "+1:x")

def test_owner_approves_by_chat_and_the_number_is_told(store: Store, notifier: Notifier) -> None:
    pair = partial(handle_pairing_command, store, notify=notifier.send)
    code = issue_code(store, WA, ALEX, 600)
    assert code is not None
    listing = pair(True, "who is waiting?")
    assert "+15557654321" in listing and code in listing
    assert pair(False, "who is waiting?") is None  # not a command for non-owners
    assert pair(False, f"approve {code}") == "Only the owner can approve or deny new numbers."
    assert store.sender_get("whatsapp", ALEX)["status"] == "pending"
    reply = pair(True, f"approve {code}")
    assert reply is not None and reply.startswith("Approved +15557654321")
    row = store.sender_get("whatsapp", ALEX)
    assert (row["status"], row["code"]) == ("allowed", None)
    [told] = store.outbox_due(float("inf"))
    assert (told["recipient"], told["channel"], told["text"]) == (ALEX, "whatsapp", APPROVED_NOTICE)
    assert "No one is waiting with code" in pair(True, f"approve {code}")  # used up
    assert pair(True, "who is waiting?") == "No one is waiting for approval."


def test_owner_denies_and_expired_codes_do_nothing(store: Store, notifier: Notifier) -> None:
    pair = partial(handle_pairing_command, store, notify=notifier.send)
    code = issue_code(store, WA, BO, 600)
    reply = pair(True, f"deny {code}")
    assert reply is not None and reply.startswith("Denied +447700900123")
    assert store.sender_get("whatsapp", BO)["status"] == "denied"
    assert store.outbox_due(float("inf")) == []  # a denied number is not told anything
    old = issue_code(store, WA, ALEX, 600, now=1000.0)
    assert pending_list(store, now=1100.0)[0]["address"] == ALEX
    assert "No one is waiting" in pair(True, f"approve {old}", now=1601.0)
    assert store.sender_get("whatsapp", ALEX)["status"] == "pending"
    assert pair(True, "turn on the kitchen light") is None


# the token bucket --------------------------------------------------------------------------------
class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_limits_refills_and_refunds() -> None:
    clock = Clock()
    bucket = TokenBucket(3, 60.0, clock=clock)
    assert [bucket.take("a") for _ in range(4)] == [True, True, True, False]
    assert bucket.take("b")  # keys are independent
    assert bucket.retry_after("a") == pytest.approx(20.0)
    clock.now = 19.0
    assert not bucket.take("a")
    clock.now = 20.0
    assert bucket.take("a") and not bucket.take("a")
    bucket.refund("a")
    assert bucket.take("a")
    clock.now = 1000.0
    assert bucket.tokens("a") == 3.0  # never more than the capacity
    bucket.refund("a", 5)
    assert bucket.tokens("a") == 3.0


def test_token_bucket_forgets_idle_keys() -> None:
    clock = Clock()
    bucket = TokenBucket(2, 60.0, clock=clock, max_keys=3)
    for key in "abc":
        bucket.take(key)
    clock.now = 100.0
    bucket.take("d")  # four keys > max_keys: the refilled ones are dropped
    assert len(bucket) == 1
    with pytest.raises(ValueError):
        TokenBucket(0)
