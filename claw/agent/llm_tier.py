"""The LLM tier: the prompt, the home tools, one model run, and the code's own confirmation block at the end."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from claw.agent.actuator import Actuator, TurnContext
from claw.agent.context import build_messages
from claw.agent.tools.home import home_tools
from claw.agent.tools.routines import Proposal, routine_tools
from claw.channels.base import Channel
from claw.config import Settings
from claw.errors import LLMError
from claw.events import TurnResult, Voice
from claw.permissions import fact_scope
from claw.replies import conversation as replies_flow
from claw.replies import local as replies
from claw.soul.manager import SoulManager
from devices.registry import Registry
from memory.store import Store

if TYPE_CHECKING:  # openai is imported only when an LLM is configured (start-up time)
    from claw.agent.llm import LLMClient
    from claw.routines.chat import RoutineChat

log = logging.getLogger(__name__)

Route = Callable[[str, str], tuple[str, str]]  # (channel, sender) -> where the reply really goes
DEFAULT_LIMIT = 1600  # characters per message when the reply's channel is unknown


class LLMTier:
    """Runs the model on a turn the local tier could not answer."""

    def __init__(self, *, store: Store, registry: Registry, soul: SoulManager, llm: LLMClient, settings: Settings,
                 actuator: Actuator, channels: Mapping[str, Channel], route: Route) -> None:
        self.store = store
        self.registry = registry
        self.soul = soul
        self.llm = llm
        self.settings = settings
        self.actuator = actuator
        self.channels = channels
        self.route = route
        self.routine_chat: RoutineChat | None = None  # set by the runtime: the propose_routine tool

    async def run(self, ctx: TurnContext, voice: Voice, images: list[tuple[bytes, str]] | None = None
                  ) -> TurnResult:
        soul = self.soul.current()
        scope = fact_scope(ctx.standing, ctx.sender)  # a guest's prompt never holds the owner's facts
        facts = self.store.fact_search(ctx.text, sources=scope.sources, sender=scope.sender)
        history = self.store.turns_recent(ctx.sender, limit=8)
        messages = build_messages(soul, self.registry.all(), facts, history, ctx.text, images,
                                  standing=ctx.standing)
        tools = home_tools(ctx, self.registry, self.actuator, self.store, voice)
        proposal = Proposal()  # a routine the model proposed: the code's description and YES prompt
        if self.routine_chat is not None:
            tools += routine_tools(ctx, self.routine_chat, voice, proposal)
        try:
            outcome = await self.llm.run(messages, tools, max_steps=self.settings.llm.max_steps,
                                         max_seconds=self.settings.llm.max_seconds,
                                         max_tool_calls=self.settings.llm.max_tool_calls_per_step)
        except LLMError as exc:
            log.warning("LLM tier failed: %s", exc)
            return TurnResult(reply=replies_flow.llm_down_reply(str(exc), voice), tier="error",
                              actions=tuple(ctx.actions))
        if ctx.inbox_id and outcome.tool_calls:  # the dashboard's chat shows the tools each reply called
            self.store.turn_tools_set(ctx.inbox_id, [str(c.get("name")) for c in outcome.tool_calls])
        # The model's words never ask for a YES: the code's own prompt, naming exactly the steps stored for
        # that YES, is always the separate final block (kept whole when the model's text has to be cut).
        channel = self.channels.get(self.route(ctx.channel, ctx.sender)[0])  # the channel the reply goes out on
        limit, most = (channel.max_length if channel else DEFAULT_LIMIT), self.settings.max_reply_messages
        prompt = self.actuator.close_confirmation(ctx, voice)
        if proposal.text:  # the routine's own words and YES, unless a later held step superseded its question
            prompt = (f"{proposal.text} {proposal.prompt}" if prompt is None else
                      f"{prompt} (The routine “{proposal.name}” was not proposed: ask for it again after this.)")
        text = replies_flow.strip_yes_requests(replies_flow.cut(outcome.text, (most + 1) * limit))  # no more is sent
        if prompt:
            text = replies_flow.fit_before(text, prompt, limit, most)
        elif not text:
            text = replies.ack_reply(voice)
        return TurnResult(reply=replies_flow.with_confirmation(text, prompt), tier="llm",
                          actions=tuple(ctx.actions), states=ctx.states)
