"""Camera rules by chat (owner only): store a rule said in words, list the rules, forget a camera's rules."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from claw.events import TurnResult
from claw.intents.camera_rules import describe, resolve_place, restate
from claw.intents.types import Plan
from memory.store import Store

if TYPE_CHECKING:
    from claw.cameras.service import CameraService


def camera_rule_turn(store: Store, service: CameraService, plan: Plan, said: str) -> TurnResult:
    """Carry out a ClawCameraRule plan (the owner's standing is checked by the caller). The reply restates the
    rule as stored, so the owner sees what the code understood."""
    rule: dict[str, Any] = dict(plan.slots.get("rule") or {})
    action = rule.get("action")
    camera = rule.get("camera")
    if camera is not None and camera not in service.cameras:
        return _reply(f"I don't know a camera called “{camera}”.")
    if action == "list":
        return _reply(listing(store, camera))
    if action == "reset":
        n = store.camera_chat_rules_reset(camera)
        service.rules_changed()
        where = f"the {service.label(camera)}" if camera else "every camera"
        left = [r for r in store.camera_chat_rules() if r.get("camera") is None] if camera else []
        still = f" The rules for every camera still hold: {'; '.join(describe(r) for r in left)}." if left else ""
        done = f"I forgot {n} rule{'s' if n != 1 else ''}" if n else "There were no rules to forget"
        return _reply(f"OK: I'll tell you about everything at {where} again, as the config says ({done}).{still}")
    rule["zone"] = None
    if rule.get("place"):
        zones = {name: list(cam.zones) for name, cam in service.cameras.items()}
        found = resolve_place(str(rule["place"]), camera, zones)
        if isinstance(found, str):
            return _reply(found + " Nothing was changed.")
        rule["camera"], rule["zone"] = found
    store.camera_chat_rule_add(rule, said)
    service.rules_changed()
    return _reply(restate(rule))


def listing(store: Store, camera: str | None = None) -> str:
    rules = [r for r in store.camera_chat_rules() if camera is None or r.get("camera") in (None, camera)]
    verdicts = store.camera_rules()
    lines = [describe(r) for r in rules]
    for cam, labels in sorted(verdicts.items()):
        if camera is None or cam == camera:
            lines += [f"{label} at the {cam}: {'ignored' if v == 'ignore' else 'always told'} (said on an alert)"
                      for label, v in sorted(labels.items())]
    if not lines:
        return "You have no camera rules: the cameras tell what their config says."
    return f"Your camera rules: {'; '.join(f'{i}. {line}' for i, line in enumerate(lines, 1))}."


def _reply(text: str) -> TurnResult:
    return TurnResult(reply=text, tier="intent")
