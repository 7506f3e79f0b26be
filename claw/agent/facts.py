"""Remember, recall and forget from chat, within what the sender may touch (claw.permissions.fact_scope)."""

from __future__ import annotations

from claw.agent.actuator import TurnContext
from claw.events import Voice
from claw.permissions import fact_scope, fact_source
from claw.replies import local as replies
from memory.store import Store


def memory_op(store: Store, ctx: TurnContext, op: str, text: str, voice: Voice) -> str:
    """Carry out one memory op ("remember", "forget", or a recall) for this sender; returns the reply."""
    scope = fact_scope(ctx.standing, ctx.sender)
    if op == "remember":
        store.fact_add(text, fact_source(ctx.standing, by_model=False), sender=ctx.sender)
        return replies.memory_reply("remember", [text], voice)
    if op == "forget":
        forgot = store.fact_forget(text, sources=scope.sources, sender=scope.sender)
        return replies.memory_reply("forget", forgot, voice)
    facts = store.fact_search(text, sources=scope.sources, sender=scope.sender) if text.strip() else []
    if not facts:
        facts = store.fact_list(limit=10, sources=scope.sources, sender=scope.sender)
    return replies.memory_reply("recall", [replies.recalled_line(f, ctx.standing) for f in facts], voice,
                                about_me=not text.strip())
