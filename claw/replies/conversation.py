"""Replies about the conversation itself: confirmations, expiries, soul edits, model and attachment trouble."""

from __future__ import annotations

import re
import unicodedata

from claw.events import Voice
from claw.replies.local import EXAMPLES

TRUNCATED = "…(truncated)"
_SENTENCE = re.compile(r"(?<=[.!?…])(\s+)")
_ASKS_YES = (  # a sentence asking the reader to reply YES / confirm: only the code may ask that
    re.compile(r"\bYES\b"),
    re.compile(r"\b(reply|replying|respond|answer|say|text|send|type|write)\b.{0,60}?\b(y|yes|ok|okay|confirm\w*)\b",
               re.I),  # bounded gap: linear time on a megabyte of model text
    re.compile(r"\bconfirm\w*\s*[:?]|^\W*(please\s+)?confirm\b|\bto\s+confirm\b", re.I),
    re.compile(r"\b(just checking|before i proceed)\b", re.I),  # the openers of confirm_prompt
)


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


def _asks_for_yes(sentence: str) -> bool:
    flat = "".join(c for c in unicodedata.normalize("NFKC", sentence) if unicodedata.category(c) != "Cf")
    return any(p.search(flat) for p in _ASKS_YES)


def strip_yes_requests(text: str) -> str:
    """The model's text without its own "reply YES to …" sentences: a YES only ever answers the code's prompt.
    """
    kept_lines = []
    for line in text.split("\n"):
        pieces = _SENTENCE.split(line)  # sentence, whitespace, sentence, ...
        sentences = pieces[0::2]
        if not any(_asks_for_yes(x) for x in sentences):
            kept_lines.append(line)
            continue
        kept = " ".join(x.strip() for x in sentences if x.strip() and not _asks_for_yes(x))
        if kept:
            kept_lines.append(kept)
    return re.sub(r"\n{3,}", "\n\n", "\n".join(kept_lines)).strip()


def with_confirmation(text: str, prompt: str | None) -> str:
    """The (already stripped) model text, then the code's own confirmation prompt as the separate final block."""
    if not prompt:
        return text
    return f"{text}\n\n{prompt}" if text else prompt


def cut(text: str, chars: int) -> str:
    """At most `chars` characters of `text`, ending with TRUNCATED when anything was dropped."""
    if len(text) <= chars:
        return text
    if chars <= len(TRUNCATED) + 1:
        return ""
    return text[: chars - len(TRUNCATED) - 1].rstrip() + " " + TRUNCATED


def fit_before(text: str, prompt: str, limit: int, max_messages: int) -> str:
    """Cut `text` so that text + a blank line + prompt split into at most `max_messages` messages of `limit`
    characters (claw.outbox.split_text packs greedily, so k parts hold more than (k - 1) / 2 * limit)."""
    return cut(text, (max_messages - 1) * limit // 2 - len(prompt) - 2)


def cap_messages(parts: list[str], limit: int, max_messages: int, cut: bool = False) -> list[str]:
    """At most `max_messages` parts; when any text was dropped (or `cut`), the last ends with TRUNCATED."""
    if len(parts) <= max_messages and not cut:
        return parts
    parts = parts[:max_messages]
    last = parts[-1][: max(0, limit - len(TRUNCATED) - 1)].rstrip() if parts else ""
    return [*parts[:-1], f"{last} {TRUNCATED}".strip()]


def nothing_pending_reply(voice: Voice) -> str:
    """A YES with no confirmation waiting: nothing is done."""
    if voice.formal:
        return "There is nothing awaiting your confirmation, so I have done nothing."
    return "There's nothing waiting for your YES, so I didn't do anything."


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


# actions whose outcome is unknown (claw.recovery) ----------------------------------------------------
def _sentence(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].upper() + text[1:]


def may_still_reply(detail: str, effect: str, voice: Voice) -> str:
    """A command went out but its outcome is unknown (`detail`: "The front door did not answer within 5 s");
    the settler checks later and tells the owner how it ended."""
    detail = _sentence(detail)
    if voice.formal:
        return f"{detail}; it may yet {effect} once it recovers. I shall check and let you know."
    if voice.concise:
        return f"{detail}; it may still {effect}. I'll check and tell you."
    return f"{detail}; it may still {effect} when it recovers — I'll check and tell you."


def interrupted_reply(what: str, why: str, voice: Voice) -> str:
    """A step cut off by a restart that is not simply redone (risky, not repeatable, or the state cannot
    tell): what is uncertain, in plain words; the code's own YES prompt for retrying it follows."""
    if voice.formal:
        return f"I was interrupted by a restart while trying to {what}, and {why}."
    return f"A restart interrupted me while I was trying to {what}, and {why}."


def settled_reply(outcome: str, name: str, effect: str, voice: Voice) -> str:
    """The follow-up about an action whose outcome was unknown: outcome is done / failed / unreadable /
    uncheckable (claw.recovery.Settle)."""
    who = name if name.lower().startswith("the ") else f"the {name}"
    if outcome == "done":
        text = f"Update: {who} did {effect} after all."
    elif outcome == "failed":
        text = f"Update: {who} did not {effect} after all. Ask me again if you still want it."
    elif outcome == "unreadable":
        text = f"Update: {who} is still not answering, so I can't tell whether it did {effect}. Please check it."
    else:
        text = f"Update: {who} is answering again, but I can't tell from its state whether it did {effect}."
    if voice.formal:
        text = text.replace("Update:", "An update:").replace("Ask me again", "Please ask again")
        text = text.replace("can't", "cannot")
    return text
