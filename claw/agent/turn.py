"""The router of one turn: chat commands, then a YES/NO, then the local intent tier, then the LLM tier."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from claw.agent.actuator import Actuator, TurnContext
from claw.agent.cameras import CameraChat
from claw.agent.commands import Commands
from claw.agent.confirm import Confirmations
from claw.agent.llm_tier import LLMTier, Route
from claw.agent.local import LocalTier
from claw.agent.media import Images, fetch_attachments
from claw.agent.questions import unmatched
from claw.channels.access import Notify
from claw.channels.base import Channel
from claw.channels.notify import SYSTEM
from claw.config import Settings
from claw.events import Received, TurnResult, Voice
from claw.intents.compound import gap_problem
from claw.intents.discovery import DISCOVERY_INTENTS
from claw.intents.engine import IntentEngine
from claw.intents.learn import LEARN_INTENTS
from claw.intents.routines import ROUTINE_INTENTS
from claw.intents.timers import TIMER_INTENTS
from claw.replies import conversation as replies_flow
from claw.replies import local as replies
from claw.soul.manager import SoulManager
from devices.registry import Registry
from memory.store import Store

if TYPE_CHECKING:  # openai is imported only when an LLM is configured (start-up time)
    from claw.agent.llm import LLMClient
    from claw.agent.routines import RoutineTalk
    from claw.agent.timers import Timers
    from claw.discovery.chat import DiscoveryChat
    from claw.learn.chat import LearnChat


def _unrouted(channel: str, sender: str) -> tuple[str, str]:
    return channel, sender


def _untold(channel: str, recipient: str, text: str) -> None:
    raise RuntimeError("this TurnHandler has no notifier (pass notify=Notifier.send) to send a notice with")


class TurnHandler:
    """Turns one stored inbound message into a TurnResult. Owns no queueing: see claw.agent.loop."""

    def __init__(self, *, store: Store, registry: Registry, intents: IntentEngine, soul: SoulManager,
                 llm: LLMClient | None, settings: Settings, channels: Mapping[str, Channel] | None = None,
                 route: Route | None = None, notify: Notify | None = None) -> None:
        self.channels = channels if channels is not None else {}
        self.store = store
        self.registry = registry
        self.intents = intents
        self.soul = soul
        self.llm = llm
        self.settings = settings
        self.route = route or _unrouted  # the notifier's: the system channel's replies go to the owner
        self.actuator = Actuator(store, registry, settings.safety)
        self.commands = Commands(store, soul, llm, settings, notify or _untold)
        self.confirmations = Confirmations(store, registry, soul, self.actuator)
        self.local = LocalTier(store, registry, self.actuator, parse=intents.parse)
        self.timers: Timers | None = None  # timers and delayed commands (claw.agent.timers), set by the runtime
        self.routine_talk: RoutineTalk | None = None  # routines and scenes by chat (claw.agent.routines)
        self.discovery: DiscoveryChat | None = None  # "scan my network" (claw.discovery.chat), set by the runtime
        self.cameras = CameraChat(store, None)  # the runtime gives it the CameraService when there are cameras
        self.learning: LearnChat | None = None  # learning unknown devices (claw.learn.chat), set by the runtime
        self.model = None if llm is None else LLMTier(
            store=store, registry=registry, soul=soul, llm=llm, settings=settings, actuator=self.actuator,
            channels=self.channels, route=self.route)

    def context(self, received: Received) -> TurnContext:
        """The turn's context, with the standing the channel decided on arrival. A risky step raised on the
        system channel (a routine, a camera) is confirmed by the owner, where its reply is routed."""
        msg = received.message
        confirm_as = self.route(msg.channel, msg.sender)[1] if msg.channel == SYSTEM else msg.sender
        return TurnContext(inbox_id=received.inbox_id, sender=msg.sender, channel=msg.channel,
                           text=msg.text.strip(), standing=msg.standing, is_owner=msg.standing == "owner",
                           confirm_as=confirm_as)

    async def handle(self, received: Received) -> TurnResult:
        ctx = self.context(received)
        voice = self.soul.current().voice
        if not ctx.text and not received.message.media:
            return TurnResult(reply=replies.greeting(voice), tier="intent")
        images, media_note = await fetch_attachments(self.channels, received)
        if images or media_note:
            return await self._with_media(ctx, images, media_note, voice)
        return await self._text(ctx, voice)

    async def _text(self, ctx: TurnContext, voice: Voice) -> TurnResult:
        answered = (self.commands.pairing(ctx) or await self.confirmations.answer(ctx, voice)
                    or await self.commands.soul_edit(ctx, voice))
        if answered is not None:
            return answered
        scene = self.routine_talk.scenes.find(ctx.text) if self.routine_talk is not None else None
        if scene is not None and self.routine_talk is not None:  # a scene's bare name: "good night", "movie night"
            return await self.routine_talk.apply(ctx, scene, voice)
        plan = self.intents.parse(ctx.text, self.settings.default_area, sender=ctx.sender)
        if plan is not None and self.model is not None and plan.slots.get("unreferred"):
            plan = None  # "turn it off" with no local command to refer to: the model sees the conversation
        if plan is not None and plan.intent in ("ClawCamera", "ClawCameraRule"):  # claw.agent.cameras
            return await self.cameras.run(ctx, plan)
        if plan is not None and plan.intent in DISCOVERY_INTENTS and self.discovery is not None:
            return await self.discovery.run(ctx, plan)  # scan, add, ignore (claw.discovery.chat)
        if plan is not None and plan.intent in LEARN_INTENTS and self.learning is not None:  # claw.learn.chat
            return await self.learning.run(ctx, plan, voice)
        if plan is not None and plan.intent in ROUTINE_INTENTS and self.routine_talk is not None:
            return await self.routine_talk.run(ctx, plan, voice)
        if plan is not None and plan.intent in TIMER_INTENTS and self.timers is not None:
            timed = await self.timers.handle(ctx, plan, voice)  # None: a delayed command not parsed locally
            if timed is not None:
                return timed
            plan = None
        if plan is not None:
            return await self.local.run(ctx, plan, voice)
        if self.model is not None:
            return await self.model.run(ctx, voice)
        split = self.intents.compound_gap(ctx.text, self.settings.default_area)  # "… and make me a sandwich"
        if split is not None:  # part of it is a command: nothing is done, and the reply says which part
            return TurnResult(reply=replies.problem_reply(gap_problem(*split), voice), tier="fallback")
        # what was understood, the closest names, one example that works here (claw.agent.questions)
        return unmatched(self.intents, self.registry, ctx.text, self.intents.unknown_target(ctx.text), voice)

    async def _with_media(self, ctx: TurnContext, images: Images, note: str | None, voice: Voice) -> TurnResult:
        """Pictures go to a vision-capable model; otherwise say so, and still act on any text."""
        if images and self.model is not None and self.settings.llm.vision:
            result = await self.model.run(ctx, voice, images)
            return result if not note else replace(result, reply=f"{result.reply}\n({note})")
        notes = [note] if note else []
        if images:
            notes.insert(0, replies_flow.cannot_see_reply(voice))
        if not ctx.text:
            return TurnResult(reply=" ".join(notes), tier="fallback")
        result = await self._text(ctx, voice)
        return replace(result, reply=f"{result.reply}\n({' '.join(notes)})")
