"""Replies about the conversation itself: confirmations, expiries, soul edits, model and attachment trouble."""

from __future__ import annotations

from claw.events import Voice
from claw.replies import EXAMPLES


def _within(ttl: float) -> str:
    if ttl >= 90:
        return f"{round(ttl / 60)} minutes"
    return f"{round(ttl)} seconds"


def confirm_prompt(what: str, reasons: str, ttl: float, voice: Voice) -> str:
    """Ask the owner to confirm a risky action; always says YES/NO (the agent looks for "YES")."""
    why = f" ({reasons})" if reasons else ""
    if voice.formal:
        return (f"Before I proceed: {what}{why}. Please reply YES within {_within(ttl)} to confirm, "
                f"or NO to cancel.")
    if voice.concise:
        return f"Confirm: {what}{why}? Reply YES or NO ({_within(ttl)})."
    return f"Just checking: {what}{why}. Reply YES within {_within(ttl)} to go ahead, or NO to cancel."


def cannot_see_reply(voice: Voice) -> str:
    """A picture arrived but no vision-capable model is configured."""
    if voice.formal:
        return ("I received your picture, but I am unable to look at images: no vision-capable model is "
                "configured (set llm.vision with a model that accepts images).")
    return "Got your picture, but I can't look at images yet: no vision-capable model is configured (llm.vision)."


def expired_reply(summary: str, voice: Voice) -> str:
    """A YES/NO that came after the confirmation expired: nothing was done."""
    if voice.formal:
        return f"I am afraid that request has expired, so I did not {summary}. Please ask again if you still wish it."
    return f"That request expired, so I didn't {summary}. Ask again if you still want it."


def declined_reply(summary: str, voice: Voice) -> str:
    if voice.formal:
        return f"Understood. I have cancelled: {summary}."
    return f"Cancelled: {summary}." if voice.concise else f"OK — cancelled: {summary}."


def soul_edit_prompt(summary: str, diff: str, ttl: float, voice: Voice) -> str:
    """Show a proposed soul.md change and ask for YES/NO."""
    summary = summary.rstrip(". ")
    shown = f"\n{diff.strip()}\n" if diff.strip() else " "
    if voice.formal:
        return (f"I propose to change soul.md: {summary}.{shown}Please reply YES within {_within(ttl)} "
                f"to apply it, or NO to leave it unchanged.")
    return f"I'd change soul.md: {summary}.{shown}Reply YES within {_within(ttl)} to apply it, or NO to keep it."


def soul_applied_reply(voice: Voice) -> str:
    """Said in the new voice right after a soul.md change."""
    if voice.formal:
        return f"Very well. soul.md has been updated; {voice.name} will speak accordingly from now on."
    if voice.concise:
        return f"soul.md updated. I'm {voice.name}."
    return f"Done — soul.md is updated. I'm {voice.name}, and this is how I'll talk from now on."


def llm_down_reply(error: str, voice: Voice) -> str:
    """The LLM tier failed; the local tier still works."""
    error = error.strip().rstrip(".")
    if voice.formal:
        return (f"My apologies: my language model is not answering at present ({error}). Simple requests "
                f"such as {EXAMPLES[0]} still work.")
    if voice.concise:
        return f"LLM unavailable ({error}). Simple commands still work."
    return (f"Sorry, my language model isn't answering right now ({error}). Simple commands still work, "
            f"like {EXAMPLES[0]}.")
