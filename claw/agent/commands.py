"""Chat commands answered before any tier: the owner's pairing commands and edits of soul.md."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

from claw.agent.actuator import TurnContext
from claw.channels.access import Notify, handle_pairing_command
from claw.config import Settings
from claw.errors import LLMError
from claw.events import TurnResult, Voice
from claw.permissions import may
from claw.replies import conversation as replies_flow
from claw.replies import local as replies
from claw.soul.edit import is_soul_edit_request, propose_edit, propose_edit_with_llm
from claw.soul.manager import SoulManager
from memory.store import Store

if TYPE_CHECKING:  # openai is imported only when an LLM is configured (start-up time)
    from claw.agent.llm import LLMClient

log = logging.getLogger(__name__)


class Commands:
    """Pairing commands ("approve 123456", "who is waiting") and manner requests ("be more formal")."""

    def __init__(self, store: Store, soul: SoulManager, llm: LLMClient | None, settings: Settings,
                 notify: Notify) -> None:
        self.store = store
        self.notify = notify  # the notifier's send: an approved number is told so
        self.soul = soul
        self.llm = llm
        self.settings = settings

    def pairing(self, ctx: TurnContext) -> TurnResult | None:
        """The reply to a pairing command (only the owner may approve or deny), or None when it is not one."""
        reply = handle_pairing_command(self.store, ctx.is_owner, ctx.text, notify=self.notify)
        return None if reply is None else TurnResult(reply=reply, tier="intent")

    async def soul_edit(self, ctx: TurnContext, voice: Voice) -> TurnResult | None:
        """A manner request: the proposed edit of soul.md, held for the owner's YES; None when it is not one."""
        if not is_soul_edit_request(ctx.text):
            return None
        if not may(ctx.standing, "soul"):  # a refusal, not a pending edit a guest's YES could apply
            return TurnResult(reply=replies.problem_reply("Only the owner can change how I talk.", voice),
                              tier="intent")
        current = self.soul.current().text
        edit = propose_edit(current, ctx.text, allow_note=self.llm is None)
        if edit is None and self.llm is not None:
            try:
                edit = await propose_edit_with_llm(current, ctx.text, self.llm.complete)
            except LLMError as exc:
                log.warning("soul edit via LLM failed: %s", exc)
        if edit is None:
            return None
        if not edit.changed:
            return TurnResult(reply=edit.summary, tier="intent")
        ttl = self.settings.safety.confirm_seconds
        self.store.confirmation_add(ctx.confirm_as, "edit soul.md", {"kind": "soul", "new_text": edit.new_text},
                                    time.time() + ttl)
        return TurnResult(reply=replies_flow.soul_edit_prompt(edit.summary, edit.diff, ttl, voice), tier="confirm")
