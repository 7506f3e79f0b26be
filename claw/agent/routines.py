"""Routines and scenes by chat, locally: proposing a routine for the owner's YES, managing routines, saving and
applying scenes. The command inside a routine or a scene is parsed with the same intent engine as chat."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from claw.agent.actuator import TurnContext
from claw.agent.local import LocalTier
from claw.agent.policy import join_actions
from claw.events import TurnResult, Voice
from claw.intents.routines import as_command, clock_at
from claw.intents.types import Plan, Step
from claw.permissions import may
from claw.replies import local as replies
from claw.routines.chat import RoutineChat
from claw.routines.model import Daily, InvalidRoutine, Once, Routine, RoutineError, RoutineNotFound
from claw.routines.triggers import describe_trigger, when_text, zone
from claw.scenes.book import SceneBook, SceneError
from devices.models import Device
from devices.registry import Registry, normalize_name

Parse = Callable[[str, str | None], Plan | None]
OWNER_ONLY = "Sorry — only the owner can create or change routines and scenes."
_SPLIT = re.compile(r"\s*(?:,|;|\band then\b|\bthen\b|\band\b)\s*", re.I)
_MOOD = ("light", "media", "cover", "speaker")  # what "save this as …" keeps: not locks, garages, heating


class RoutineTalk:
    """Carries out the ClawRoutine*/ClawScene* plans (claw.intents.routines) and bare scene names."""

    def __init__(self, chat: RoutineChat, scenes: SceneBook, *, registry: Registry, local: LocalTier,
                 parse: Parse, default_area: str | None = None) -> None:
        self.chat = chat
        self.routines = chat.routines
        self.scenes = scenes
        self.registry = registry
        self.local = local
        self.parse = parse
        self.default_area = default_area

    async def run(self, ctx: TurnContext, plan: Plan, voice: Voice) -> TurnResult:
        if plan.problem:
            return _say(replies.problem_reply(plan.problem, voice))
        intent, slots = plan.intent, plan.slots
        if intent == "ClawSceneApply":
            return await self.apply(ctx, str(slots.get("scene_name", "")), voice)
        if intent == "ClawSceneList":
            names = self.scenes.names()
            return _say(f"Your scenes: {join_actions([f'“{n}”' for n in names])}." if names else
                        "You have no scenes yet. Say “save this as movie night”, or “good night means lights off, "
                        "front door locked”.")
        if not may(ctx.standing, "routines"):
            return _say(OWNER_ONLY)
        try:
            if intent == "ClawRoutineAdd":
                return self._propose(ctx, slots["routine"], voice)
            if intent == "ClawRoutineList":
                return _say(self._list())
            if intent == "ClawRoutineManage":
                return await self._manage(ctx, str(slots.get("routine_op")), str(slots.get("routine_ref", "")), voice)
            if intent == "ClawRoutineHistory":
                return _say(self._history(slots.get("routine_since")))
            if intent == "ClawSceneSave":
                return await self._save(ctx, slots)
            if intent == "ClawSceneDefine":
                return self._define(ctx, str(slots.get("scene_name", "")))
            if intent == "ClawSceneDelete":
                name = self.scenes.find(str(slots.get("scene_name", ""))) or str(slots.get("scene_name", ""))
                return _say(f"Deleted the scene “{name}”." if self.scenes.delete(name) else
                            f"I have no scene called “{name}”.")
        except (RoutineError, SceneError) as exc:
            return _say(replies.problem_reply(_sentence(str(exc)), voice))
        return _say(replies.problem_reply("I understood that, but I can't do it on my own yet.", voice))

    # creating a routine ----------------------------------------------------------------------------
    def _propose(self, ctx: TurnContext, draft: dict[str, Any], voice: Voice) -> TurnResult:
        if draft.get("say"):
            steps: list[Any] = [{"say": draft["say"]}]
        else:
            steps = self._steps(str(draft["command"]))
        spec = {"name": self._free_name(str(draft["name"])), "when": draft["when"], "steps": steps}
        try:
            _, reply = self.chat.propose(spec, confirm_as=ctx.confirm_as, voice=voice)
        except InvalidRoutine as exc:
            if not (draft.get("roll") and "passed" in str(exc)):
                raise
            spec["when"] = str(draft["when"]).replace("today", "tomorrow", 1)  # "at 7": the next 7:00
            spec["name"] = self._free_name(str(draft["name"]).replace("today", "tomorrow"))
            _, reply = self.chat.propose(spec, confirm_as=ctx.confirm_as, voice=voice)
        return TurnResult(reply=reply, tier="confirm")

    def _steps(self, command: str) -> list[Any]:
        """The routine's steps from the command text: a scene by name, else the intent engine's Plan steps."""
        scene = self.scenes.find(command.removeprefix("activate ").removeprefix("apply "))
        if scene is not None:
            return [{"scene": scene}]
        plan = self.parse(command, self.default_area)
        if plan is not None and plan.intent == "ClawSceneApply" and plan.slots.get("scene_name"):
            return [{"scene": self.scenes.find(str(plan.slots["scene_name"])) or plan.slots["scene_name"]}]
        if plan is None or plan.problem or plan.query is not None or not plan.steps:
            why = f" ({plan.problem.rstrip('.')})" if plan is not None and plan.problem else ""
            raise InvalidRoutine(f"I understood when, but not what to do: “{command}”{why}. A routine step is a "
                                 "command like “turn on the kitchen light”, or a scene's name")
        return [{"device": s.device_id, "command": s.command, "args": dict(s.args)} for s in plan.steps]

    def _free_name(self, name: str) -> str:
        taken = {r.name.lower() for r in self.routines.list()}
        candidate, n = name, 2
        while candidate.lower() in taken:
            candidate, n = f"{name} ({n})", n + 1
        return candidate

    # managing routines -----------------------------------------------------------------------------
    def _list(self) -> str:
        found = self.routines.list()
        if not found:
            return ("You have no routines yet. Try “every weekday at 7 turn on the kitchen light” or “at sunset "
                    "close the bedroom shade”.")
        now = self.routines.clock.now()
        lines = []
        for r in found:
            state = "paused" if r.paused else _next(self.routines.next_times(r, 1, now), r.tz, now)
            lines.append(f"#{r.id} “{r.name}”: {describe_trigger(r.trigger, r.tz)} ({state})")
        return f"You have {len(found)} routine{'s' if len(found) != 1 else ''}: " + "; ".join(lines) + "."

    def find(self, ref: str) -> list[Routine]:
        """Routines a reference means: "#3", a name, part of a name ("morning"), or a time ("the 7am one")."""
        ref = re.sub(r"\s+(routine|one)$", "", ref.strip(), flags=re.I)
        try:
            return [self.routines.get(ref)]
        except RoutineNotFound:
            pass
        everything = self.routines.list()
        want = normalize_name(ref)
        found = [r for r in everything if want and want in normalize_name(r.name)]
        at = clock_at(ref + " x")
        if not found and at is not None:
            hh, mm = (int(p) for p in at[0].split(":"))
            found = [r for r in everything if _at(r) == dt.time(hh, mm)]
        return found

    async def _manage(self, ctx: TurnContext, op: str, ref: str, voice: Voice) -> TurnResult:
        found = self.find(ref)
        if not found and op == "run" and (scene := self.scenes.find(ref)):
            return await self.apply(ctx, scene, voice)
        if not found:
            raise RoutineNotFound(f"I have no routine called “{ref}”. Ask “what routines do I have?” to see them")
        if len(found) > 1:
            names = join_actions([f"#{r.id} “{r.name}”" for r in found]).replace(" and ", " or ")
            return _say(f"Which routine do you mean: {names}?")
        routine = found[0]
        if op == "pause":
            self.routines.pause(routine.id, standing=ctx.standing)
            return _say(f"Paused “{routine.name}”. Say “resume {routine.name} routine” to start it again.")
        if op == "resume":
            return _say("Resumed. " + self.routines.describe(self.routines.resume(routine.id, standing=ctx.standing)))
        if op == "delete":
            self.routines.delete(routine.id, standing=ctx.standing)
            return _say(f"Deleted the routine “{routine.name}”.")
        if op == "run":
            self.routines.run_now(routine.id, standing=ctx.standing)
            return _say(f"Running “{routine.name}” now.")
        return _say(self.routines.describe(routine))

    def _history(self, since_word: Any) -> str:
        tz = zone(self.routines.zone_name)
        now = self.routines.clock.now().astimezone(tz)
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        since = {"morning": midnight, "today": midnight, "yesterday": midnight - dt.timedelta(days=1)}.get(
            str(since_word)) if since_word else None
        until = {"morning": midnight + dt.timedelta(hours=12), "yesterday": midnight}.get(str(since_word), now)
        rows = [r for r in self.routines.history(since=since, limit=200)
                if float(r["slot_utc"]) <= until.timestamp()][:10]
        if not rows:
            return "No routine ran then." if since_word else "No routine has run yet."
        return "; ".join(self.routines.history_text(r) for r in rows) + "."

    # scenes ----------------------------------------------------------------------------------------
    async def apply(self, ctx: TurnContext, name: str, voice: Voice) -> TurnResult:
        """Apply a scene as an ordinary command: harmless steps now, risky ones held for the owner's YES."""
        found = self.scenes.find(name)
        if found is None:
            known = self.scenes.names()
            also = f" Your scenes: {join_actions([f'“{n}”' for n in known])}." if known else ""
            return _say(f"I have no scene called “{name}”.{also}")
        steps = tuple(Step(d, c, a) for d, c, a in self.scenes.calls(found))
        result = await self.local.run(ctx, Plan("ClawSceneApply", steps=steps, slots={"scene": found}), voice)
        return replace(result, reply=f"“{found}”: {result.reply}")

    def _free_scene_name(self, name: str) -> str:
        """A scene's name must not already be a command ("lights off", "help"): its bare name would hide it."""
        plan = self.parse(name, self.default_area)
        if plan is not None and plan.intent not in ("ClawSceneApply",) and not plan.problem:
            raise SceneError(f"“{name}” already means something to me; pick another name for the scene")
        return name

    async def _save(self, ctx: TurnContext, slots: dict[str, Any]) -> TurnResult:
        self._free_scene_name(str(slots.get("scene_name", "")))
        devices = self._scene_devices(str(slots.get("area") or slots.get("scene_devices") or ""))
        calls = await self.scenes.capture(devices)
        name = self.scenes.save(str(slots.get("scene_name", "")), calls, "state")
        return _say(f"Saved the scene “{name}”: {self._words(calls)}. Say “{name}” to bring it back.")

    def _scene_devices(self, named: str) -> list[Device]:
        everything = self.registry.all()
        if not named:  # "save this as …": the default room, else the house's lights, speakers and blinds
            room = [d for d in everything if self.default_area and normalize_name(d.room or "") ==
                    normalize_name(self.default_area)]
            return room or [d for d in everything if any(k in str(d.kind) for k in _MOOD)]
        chosen: list[Device] = []
        for part in (p for p in _SPLIT.split(named) if p):
            want = normalize_name(part.removeprefix("the "))
            hit = [d for d in everything if normalize_name(d.room or "") == want] or [
                d for d in everything if want in (normalize_name(n) for n in d.names())]
            if not hit:
                raise SceneError(f"I don't know a device or room called “{part}”")
            chosen += [d for d in hit if d not in chosen]
        return chosen

    def _define(self, ctx: TurnContext, name: str) -> TurnResult:
        self._free_scene_name(name)
        text = ctx.text
        _, sep, body = text.partition(" means ")
        if not sep:
            raise SceneError("say it like “good night means lights off, front door locked”")
        calls: list[tuple[str, str, dict[str, Any]]] = []
        for part in (p.strip(" .!") for p in _SPLIT.split(body) if p.strip(" .!")):
            plan = self.parse(as_command(part), self.default_area)
            if plan is not None and plan.problem:
                raise SceneError(f"for “{part}”: {plan.problem} Nothing was saved")
            if plan is None or not plan.steps:
                raise SceneError(f"I did not understand “{part}”; nothing was saved")
            calls += [(s.device_id, s.command, dict(s.args)) for s in plan.steps]
        saved = self.scenes.save(name, calls, "commands")
        return _say(f"Saved the scene “{saved}”: {self._words(calls)}. Say “{saved}” to apply it.")

    def _words(self, calls: list[tuple[str, str, dict[str, Any]]]) -> str:
        from claw.routines.model import DeviceStep

        devices = {d.id: d for d in self.registry.all()}
        return join_actions([self.routines.step_text(DeviceStep(d, c, a), devices) for d, c, a in calls])


def _at(routine: Routine) -> dt.time | None:
    trigger = routine.trigger
    if isinstance(trigger, Daily):
        return trigger.at.replace(second=0)
    if isinstance(trigger, Once):
        return trigger.at.astimezone(zone(routine.tz)).time().replace(second=0, tzinfo=None)
    return None


def _next(times: list[dt.datetime], tz_name: str, now: dt.datetime) -> str:
    return f"next {when_text(times[0], zone(tz_name), now)}" if times else "will not run again"


def _sentence(text: str) -> str:
    text = text.strip()
    return (text[:1].upper() + text[1:]) + ("" if text.endswith((".", "?", "!")) else ".")


def _say(text: str) -> TurnResult:
    return TurnResult(reply=text, tier="intent")
