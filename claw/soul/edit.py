"""Soul edits asked for in chat: recognise the request, propose a new soul.md and its diff (rules or LLM)."""

from __future__ import annotations

import difflib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from claw.soul.manager import _COMMENT_RE, _HEADING_RE, clean_name, parse_voice, soul_problem, strip_comments

log = logging.getLogger(__name__)

Complete = Callable[[list[dict]], Awaitable[str]]

NOTES_HEADING = "## Style notes"

# Adjectives about manner, mapped to (field, value when asked for more, value when asked for less).
_ADJECTIVES: dict[str, tuple[str, str, str]] = {}
for _words, _rule in (
    ("formal professional polite proper serious businesslike", ("tone", "formal", "casual")),
    ("casual informal relaxed friendly chill laid-back laidback warm", ("tone", "casual", "formal")),
    ("concise brief short shorter terse succinct", ("length", "concise", "normal")),
    ("detailed chatty verbose longer wordy thorough talkative", ("length", "normal", "concise")),
):
    for _w in _words.split():
        _ADJECTIVES[_w] = _rule
_ADJ = "|".join(sorted((re.escape(w) for w in _ADJECTIVES), key=len, reverse=True))
_ADJ_RE = re.compile(rf"\b({_ADJ})\b")
_NEGATION_RE = re.compile(r"\b(less|not|too|no longer|never|don'?t|do not|stop being|quit being)\b"
                          r"(\s+\w+){0,2}\s*$")
_PHRASES: tuple[tuple[re.Pattern[str], tuple[str, str]], ...] = (
    (re.compile(r"\b(to the point|(talk|say|write) less|talk too much|fewer words|keep it short"
                r"|(shorter|short) (answers|replies|messages|responses))\b"), ("length", "concise")),
    (re.compile(r"\b(more detail|(longer|fuller) (answers|replies|messages|responses)|explain more)\b"),
     ("length", "normal")),
)

_NOT_A_NAME = r"(?!(?:too|not|so|very|really|weird|silly|stupid|wrong|fine|ok|okay|what|boring)\b)"
_NAME_WORD = r"(?!(?:and|from|please|instead|now|then|but|or|with)\b)[A-Za-z][\w.'-]*"
_RENAME_RE = re.compile(
    r"\b(?:call yourself|your (?:new )?name (?:is|will be|should be)(?: now)?|rename yourself(?: to)?"
    r"|change your name to|you(?:'re|’re| are) (?:now )?(?:called|named))\s+[\"'“‘]?"
    rf"(?P<name>{_NOT_A_NAME}{_NAME_WORD}(?:[ \t]+{_NAME_WORD}){{0,3}})",
    re.IGNORECASE,
)

# Requests about the claw's own manner, as opposed to commands for devices.
_SOUL_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(r"\b(be|act|sound|get|stay|become|you(?:'re| are)|you sound)\s+(a bit |a little |much |way )?"
               rf"(more |less |too |so |not so |less of a )?({_ADJ})\b"),
    re.compile(rf"^\s*(please\s+)?(more|less)\s+({_ADJ})\b"),
    re.compile(r"\b(talk|speak|reply|respond|answer|write|act|behave|sound)\s+(like|as if|as though|in)\b"),
    re.compile(r"\b(stop|quit|don'?t|do not|never|no more)\s+(using|use|saying|say|adding|add|apologi[sz]ing"
               r"|apologi[sz]e|swearing|swear|cursing|calling me|being|talking|sending emoji)\b"),
    re.compile(r"\b(use|with|add)\s+(more|fewer|less|no)\s+(emoji|emojis|emoticons|slang|jargon|jokes"
               r"|humou?r|exclamation|bullet)"),
    re.compile(r"\b(your|the way you)\s+(tone|personality|voice|style|manner|attitude|humou?r"
               r"|replies are)\b"),
    re.compile(r"\b(change|adjust|edit|update)\s+(your|the)\s+(soul|personality|tone)\b"),
    re.compile(r"\bsoul\.md\b|\byour soul\b"),
    _PHRASES[0][0],
    _PHRASES[1][0],
)
# Words that make a "be more X"/"stop Y" sentence about a device, not about the claw.
_DEVICE_RE = re.compile(r"\b(light|lights|lamp|lamps|music|song|speaker|speakers|sonos|volume|thermostat"
                        r"|heating|heater|temperature|door|lock|blinds?|shades?|curtains?|camera|tv|fan"
                        r"|playing|play|alarm|garage|oven)\b")
_LEADING_FILLER_RE = re.compile(r"^\s*(hey|ok|okay|so|also|and|claw)?[,!\s]*(please|can you|could you"
                                r"|would you|i want you to|i'd like you to|i would like you to)?\s*",
                                re.IGNORECASE)
_TRAILING_FILLER_RE = re.compile(r"[\s,]*(from now on|going forward|in future|in the future|please|thanks"
                                 r"|thank you)?[\s.!?]*$", re.IGNORECASE)


@dataclass(frozen=True)
class SoulEdit:
    """A proposed soul.md: the full new text, a unified diff (a/soul.md -> b/soul.md) and a summary."""

    new_text: str
    diff: str
    summary: str

    @property
    def changed(self) -> bool:
        """False when the soul already says what was asked (nothing to confirm)."""
        return bool(self.diff)


def make_edit(current_text: str, new_text: str, summary: str) -> SoulEdit:
    """A SoulEdit with the unified diff between the two texts."""
    diff = "".join(difflib.unified_diff(current_text.splitlines(keepends=True), _ensure_nl(new_text)
                                        .splitlines(keepends=True), "a/soul.md", "b/soul.md"))
    if current_text == new_text:
        diff = ""
    return SoulEdit(new_text=new_text, diff=diff, summary=summary)


def _ensure_nl(text: str) -> str:
    return text if text.endswith("\n") or not text else text + "\n"


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("’", "'").split())


def _hidden_spans(text: str) -> list[tuple[int, int]]:
    """Character spans inside <!-- --> comments or fenced code blocks, where edits must not land."""
    spans = [(m.start(), m.end()) for m in _COMMENT_RE.finditer(text)]
    fence_start: int | None = None
    pos = 0
    for line in text.splitlines(keepends=True):
        if line.lstrip().startswith(("```", "~~~")) and _visible(pos, spans):
            if fence_start is None:
                fence_start = pos
            else:
                spans.append((fence_start, pos + len(line)))
                fence_start = None
        pos += len(line)
    if fence_start is not None:
        spans.append((fence_start, len(text)))
    return spans


def _visible(pos: int, spans: list[tuple[int, int]]) -> bool:
    return not any(start <= pos < end for start, end in spans)


def _parse_rename(request: str) -> tuple[str, str] | None:
    """(new name, the rest of the request) for "call yourself X" and the like, else None."""
    text = request.strip()
    m = _RENAME_RE.search(text)
    if not m:
        return None
    name = clean_name(m.group("name").strip(" \"'“”‘’.,!?"))
    if not name:
        return None
    if name.islower():
        name = name.title()
    return name, f"{text[:m.start()]} {text[m.end():]}".strip()


def is_soul_edit_request(text: str) -> bool:
    """True for requests about the claw's own manner or name ("be more formal", "stop using emoji")."""
    t = _norm(text)
    if not t or len(t) > 300:
        return False
    rename = _parse_rename(text)
    if rename is not None:
        return not _DEVICE_RE.search(_norm(rename[1]))
    if _DEVICE_RE.search(t):
        return False
    return any(p.search(t) for p in _SOUL_PATTERNS)


# --- rule-based edits -----------------------------------------------------------------------------

def _wanted_fields(request: str) -> dict[str, str]:
    """{"tone": "formal"|"casual", "length": "concise"|"normal"} as far as the request says."""
    t = _norm(request)
    wanted: dict[str, str] = {}
    for pattern, (key, value) in _PHRASES:
        if pattern.search(t):
            wanted.setdefault(key, value)
    for m in _ADJ_RE.finditer(t):
        key, more, less = _ADJECTIVES[m.group(1)]
        wanted[key] = less if _NEGATION_RE.search(t[:m.start()]) else more
    return wanted


def set_field(text: str, key: str, value: str) -> str:
    """text with its 'Tone:'/'Length:' value set; the line is added under '## Voice' when missing."""
    pattern = re.compile(rf"^[ \t]*(?:[-*+][ \t]+)?[*_]*{key}[*_]*[ \t]*:[ \t*_`]*(?P<value>[A-Za-z-]*)",
                         re.IGNORECASE | re.MULTILINE)
    spans = _hidden_spans(text)
    for m in pattern.finditer(text):
        if _visible(m.start(), spans):
            return text[:m.start("value")] + value + text[m.end("value"):]
    new_line = f"- {key.capitalize()}: {value}\n"
    lines = text.splitlines(keepends=True)
    pos = 0
    for i, line in enumerate(lines):
        if re.match(r"^##[ \t]+voice\b", line, re.IGNORECASE) and _visible(pos, spans):
            j = i + 1
            while j < len(lines) and not lines[j].strip():
                j += 1
            follows_list = j < len(lines) and re.match(r"^\s*[-*+]\s", lines[j])
            lines[j:j] = (["\n"] if j == i + 1 else []) + [new_line] + ([] if follows_list else ["\n"])
            return "".join(lines)
        pos += len(line)
    return _insert_section(text, "## Voice", new_line)


def set_name(text: str, name: str) -> str:
    """text with its first '# ' heading set to name (a heading is added at the top when missing)."""
    spans = _hidden_spans(text)
    pos = 0
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if _visible(pos, spans) and _HEADING_RE.match(line.rstrip("\r\n")):
            lines[i] = f"# {name}\n"
            return "".join(lines)
        pos += len(line)
    return f"# {name}\n\n{text}"


def _insert_section(text: str, heading: str, body: str) -> str:
    """text with a new section inserted before the first '## ' heading, or at the end."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.startswith("## "):
            return "".join(lines[:i] + [f"{heading}\n\n", body, "\n"] + lines[i:])
    return _ensure_nl(text.rstrip("\n")) + f"\n{heading}\n\n{body}"


def add_note(text: str, note: str) -> str:
    """text with a bullet added under '## Style notes' (the section is created at the end when missing)."""
    bullet = f"- {note}\n"
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.strip().lower() == NOTES_HEADING.lower():
            j = i + 1
            while j < len(lines) and not lines[j].startswith("#"):
                j += 1
            while j > i + 1 and not lines[j - 1].strip():
                j -= 1
            if j == i + 1:
                lines.insert(j, "\n")
                j += 1
            if j > 0 and not lines[j - 1].endswith("\n"):
                lines[j - 1] += "\n"
            lines.insert(j, bullet)
            return "".join(lines)
    return _ensure_nl(text.rstrip("\n")) + f"\n{NOTES_HEADING}\n\n{bullet}"


def note_from_request(request: str) -> str:
    """A style note in the owner's words: fillers dropped, first letter capitalised, ending with a period."""
    note = _TRAILING_FILLER_RE.sub("", _LEADING_FILLER_RE.sub("", request.strip(), count=1))
    note = " ".join(note.split())[:200]
    return (note[:1].upper() + note[1:] + ".") if note else ""


def propose_edit(current_text: str, request: str, *, allow_note: bool = True) -> SoulEdit | None:
    """A rule-based SoulEdit for a manner request, or None when the request is not a soul edit.

    Handles tone (formal/casual), length (concise/normal) and renames exactly; any other manner
    request ("stop using emoji") becomes a bullet under '## Style notes' unless allow_note is False.
    The returned edit may be unchanged (edit.changed is False) when the soul already says so.
    """
    if not is_soul_edit_request(request):
        return None
    new_text = current_text
    done: list[str] = []
    already: list[str] = []
    voice = parse_voice(current_text)
    rest = request
    rename = _parse_rename(request)
    if rename is not None:
        name, rest = rename
        if voice.name == name:
            already.append(f"my name is already {name}")
        else:
            new_text = set_name(new_text, name)
            done.append(f"call myself {name}")
    for key, value in _wanted_fields(rest).items():
        if key == "tone":
            now = "formal" if voice.formal else "casual"
        else:
            now = "concise" if voice.concise else "normal"
        if now == value:
            already.append(f"{key} is already {value}")
        else:
            new_text = set_field(new_text, key, value)
            done.append(f"set {key.capitalize()}: {value}")
    if not done and not already:
        note = note_from_request(request) if allow_note else ""
        if not note:
            return None
        new_text = add_note(new_text, note)
        done.append(f'add the style note "{note}"')
    if done:
        summary = "I would " + ", and ".join(done) + " in soul.md."
    else:
        summary = "Nothing to change: " + "; ".join(already) + "."
    return make_edit(current_text, new_text, summary)


# --- LLM-based edits ------------------------------------------------------------------------------

_LLM_SYSTEM = (
    "You edit soul.md, the Markdown file that defines a home agent's name, voice and values. "
    "Apply the owner's request and change nothing else. Keep the first '# ' heading (it is the "
    "agent's name) and keep the 'Tone:' (casual or formal) and 'Length:' (normal or concise) lines. "
    "Never weaken the safety, privacy or honesty values. Reply with the complete new file only: "
    "no explanation and no code fences."
)
_FENCE_RE = re.compile(r"^\s*```[\w-]*\s*\n(?P<body>.*?)\n\s*```\s*$", re.DOTALL)


def clean_llm_soul(reply: str) -> str:
    """The model's reply without surrounding code fences or whitespace, ending with one newline."""
    text = reply.strip()
    m = _FENCE_RE.match(text)
    if m:
        text = m.group("body").strip()
    return _ensure_nl(text)


def validate_llm_soul(current_text: str, text: str) -> str | None:
    """Why a model-written soul is unusable, or None: empty, binary, huge, or without a '# ' heading."""
    problem = soul_problem(text)
    if problem:
        return problem
    if len(text) > max(4 * len(current_text), len(current_text) + 4000):
        return f"is {len(text)} characters, far longer than the current {len(current_text)}"
    if not any(_HEADING_RE.match(line) for line in strip_comments(text).splitlines()):
        return "has no '# ' title line (the name)"
    return None


async def propose_edit_with_llm(current_text: str, request: str, complete: Complete) -> SoulEdit | None:
    """Ask an LLM (complete(messages) -> text) to rewrite soul.md; None when its answer is unusable/unchanged.

    Errors raised by complete() are logged and give None, so a failing model never breaks the turn.
    """
    messages = [
        {"role": "system", "content": _LLM_SYSTEM},
        {"role": "user", "content": f"Current soul.md:\n<soul>\n{current_text}\n</soul>\n\n"
                                    f"Owner's request: {request.strip()}"},
    ]
    try:
        reply = await complete(messages)
    except Exception:  # noqa: BLE001 - a model failure must not break the turn
        log.warning("soul edit: the model call failed", exc_info=True)
        return None
    if not isinstance(reply, str):
        log.warning("soul edit: the model returned %s, not text", type(reply).__name__)
        return None
    new_text = clean_llm_soul(reply)
    problem = validate_llm_soul(current_text, new_text)
    if problem:
        log.warning("soul edit: rejected the model's soul.md, it %s", problem)
        return None
    if new_text.strip() == current_text.strip():
        return None
    edit = make_edit(current_text, new_text, "")
    added = sum(1 for ln in edit.diff.splitlines() if ln.startswith("+") and not ln.startswith("+++"))
    removed = sum(1 for ln in edit.diff.splitlines() if ln.startswith("-") and not ln.startswith("---"))
    summary = f'I would rewrite soul.md for "{request.strip()}" ({added} lines added, {removed} removed).'
    return SoulEdit(new_text=edit.new_text, diff=edit.diff, summary=summary)
