"""Tests for the soul: soul.md on disk, change detection, versions, fallback, and chat edits."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from claw.errors import SoulError
from claw.events import Voice
from claw.soul.edit import (
    is_soul_edit_request,
    propose_edit,
    propose_edit_with_llm,
    set_field,
    set_name,
)
from claw.soul.manager import (
    MAX_SOUL_BYTES,
    SoulManager,
    SoulSnapshot,
    default_soul_text,
    parse_voice,
    system_prompt_section,
)
from memory.store import Store

REPO = Path(__file__).resolve().parent.parent
HOUR_NS = 3600 * 10**9


@pytest.fixture
def soul_path(tmp_path: Path) -> Path:
    return tmp_path / "data" / "soul.md"


@pytest.fixture
def mgr(soul_path: Path, store: Store) -> SoulManager:
    return SoulManager(soul_path, store)


def age(path: Path) -> None:
    """Make the file's mtime an hour old, so it is outside the racy window."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns - HOUR_NS, st.st_mtime_ns - HOUR_NS))


def edit_on_disk(path: Path, data: str | bytes) -> None:
    """Rewrite the file in place like an editor would, and age it."""
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    age(path)


# --- the default soul ------------------------------------------------------------------------------

def test_default_soul_shape() -> None:
    text = (REPO / "soul.md").read_text(encoding="utf-8")
    assert (REPO / "claw" / "default_soul.md").read_text(encoding="utf-8") == text
    assert default_soul_text() == text
    assert text.startswith("# Claw\n")
    assert len(text.splitlines()) <= 60
    for section in ("## Voice", "## Values", "## House rules"):
        assert section in text
    assert "Tone: casual" in text and "Length: normal" in text
    assert "claw soul revert" in text
    assert parse_voice(text) == Voice(name="Claw", formal=False, concise=False)


def test_default_created_on_first_use(mgr: SoulManager, soul_path: Path, store: Store) -> None:
    assert not soul_path.exists()
    snap = mgr.current()
    assert soul_path.read_text(encoding="utf-8") == default_soul_text()
    assert snap.text == default_soul_text()
    assert snap.warning is None
    assert snap.voice == Voice()
    rows = store.soul_versions()
    assert [(r["id"], r["source"]) for r in rows] == [(snap.version_id, "default")]


def test_custom_default_text(soul_path: Path, store: Store) -> None:
    snap = SoulManager(soul_path, store, default_text="# Robo\n\nTone: formal\n").current()
    assert snap.voice == Voice(name="Robo", formal=True, concise=False)
    assert soul_path.read_text(encoding="utf-8") == "# Robo\n\nTone: formal\n"


def test_missing_file_at_start_restores_latest_version(soul_path: Path, store: Store) -> None:
    version_id, _ = store.soul_version_add("# Jeeves\n\nTone: formal\n", "chat")
    snap = SoulManager(soul_path, store).current()
    assert snap.version_id == version_id
    assert snap.voice.name == "Jeeves"
    assert soul_path.read_text(encoding="utf-8") == "# Jeeves\n\nTone: formal\n"
    assert len(store.soul_versions()) == 1


def test_existing_file_is_used_and_restart_adds_no_version(soul_path: Path, store: Store) -> None:
    soul_path.parent.mkdir(parents=True)
    edit_on_disk(soul_path, "# Hal\n\n- Length: concise\n")
    first = SoulManager(soul_path, store).current()
    assert first.voice == Voice(name="Hal", formal=False, concise=True)
    assert store.soul_latest()["source"] == "file"
    again = SoulManager(soul_path, store).current()  # a restart with the same file
    assert again.version_id == first.version_id
    assert len(store.soul_versions()) == 1


# --- change detection ------------------------------------------------------------------------------

def test_edit_on_disk_is_picked_up(mgr: SoulManager, soul_path: Path, store: Store) -> None:
    first = mgr.current()
    edit_on_disk(soul_path, "# Jarvis\n\n## Voice\nTone: formal\nLength: concise\n\nBe crisp.\n")
    snap = mgr.current()
    assert snap.text.startswith("# Jarvis")
    assert snap.voice == Voice(name="Jarvis", formal=True, concise=True)
    assert snap.version_id != first.version_id
    latest = store.soul_latest()
    assert latest["id"] == snap.version_id and latest["source"] == "file"
    assert latest["text"] == snap.text
    assert len(store.soul_versions()) == 2


def test_unchanged_file_is_not_reread(mgr: SoulManager, soul_path: Path, store: Store) -> None:
    mgr.current()
    age(soul_path)
    mgr.current()  # the aged mtime is a change of signature: one read
    reads = mgr.reads
    for _ in range(5):
        snap = mgr.current()
    assert mgr.reads == reads
    assert snap.warning is None
    assert len(store.soul_versions()) == 1


def test_touched_file_with_same_text_adds_no_version(mgr: SoulManager, soul_path: Path, store: Store) -> None:
    first = mgr.current()
    age(soul_path)
    snap = mgr.current()
    assert mgr.reads >= 1
    assert snap.version_id == first.version_id
    assert len(store.soul_versions()) == 1


def test_same_size_same_mtime_edit_is_detected(mgr: SoulManager, soul_path: Path) -> None:
    """A second write within the timestamp granularity must not be missed (racy window)."""
    soul_path.parent.mkdir(parents=True, exist_ok=True)
    soul_path.write_text("# Aaaa\n", encoding="utf-8")
    st = soul_path.stat()
    assert mgr.current().voice.name == "Aaaa"
    soul_path.write_text("# Bbbb\n", encoding="utf-8")
    os.utime(soul_path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert soul_path.stat().st_size == st.st_size
    assert mgr.current().voice.name == "Bbbb"


# --- bad content falls back -----------------------------------------------------------------------

BAD_CONTENT = {
    "empty": b"",
    "whitespace": b"  \n\t\n   \n",
    "binary": bytes(range(256)) * 4,
    "control-chars": b"# X\n" + b"\x01\x02\x03\x04\x05\x06\x07\x08" * 20,
    "not-utf8": "# Claw\n\nTone: formal, caf\u00e9\n".encode("latin-1"),
    "huge": b"# Claw\n" + b"blah " * (MAX_SOUL_BYTES // 5 + 10),
}


@pytest.mark.parametrize("kind", sorted(BAD_CONTENT))
def test_bad_file_keeps_last_good(kind: str, mgr: SoulManager, soul_path: Path, store: Store,
                                  caplog: pytest.LogCaptureFixture) -> None:
    good = mgr.write("# Good\n\nTone: formal\n", "cli")
    edit_on_disk(soul_path, BAD_CONTENT[kind])
    with caplog.at_level(logging.WARNING, logger="claw.soul.manager"):
        snaps = [mgr.current() for _ in range(3)]
    for snap in snaps:
        assert snap.text == good.text
        assert snap.version_id == good.version_id
        assert snap.voice == Voice(name="Good", formal=True)
        assert snap.warning and "soul.md" in snap.warning and str(good.version_id) in snap.warning
    assert len([r for r in caplog.records if r.name == "claw.soul.manager"]) == 1  # warned once per bad content
    assert len(store.soul_versions()) == 2  # default + good; the bad content is never stored

    fixed = mgr.write("# Better\n", "chat")  # a valid write recovers
    assert fixed.warning is None
    assert mgr.current() == fixed
    assert soul_path.read_text(encoding="utf-8") == "# Better\n"


def test_new_bad_content_warns_again(mgr: SoulManager, soul_path: Path,
                                     caplog: pytest.LogCaptureFixture) -> None:
    mgr.current()
    with caplog.at_level(logging.WARNING, logger="claw.soul.manager"):
        soul_path.write_bytes(b"")  # fresh mtime: re-read (racy window) on every call, still one warning
        mgr.current()
        mgr.current()
        edit_on_disk(soul_path, b"\x00\x00\x00")
        assert "binary" in (mgr.current().warning or "")
        mgr.current()
    assert len([r for r in caplog.records if r.name == "claw.soul.manager"]) == 2


def test_deleted_file_keeps_last_good_then_recovers(mgr: SoulManager, soul_path: Path, store: Store,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    good = mgr.write("# Keeper\n\nLength: concise\n", "chat")
    soul_path.unlink()
    with caplog.at_level(logging.WARNING, logger="claw.soul.manager"):
        snap = mgr.current()
        assert mgr.current().warning  # still flagged while missing ...
    assert len([r for r in caplog.records if r.name == "claw.soul.manager"]) == 1  # ... but logged once
    assert snap.text == good.text and snap.voice.concise
    assert snap.warning and "missing" in snap.warning
    # the owner puts a file back by hand: picked up
    soul_path.write_text("# Back\n", encoding="utf-8")
    back = mgr.current()
    assert back.warning is None and back.voice.name == "Back"
    # deleted again, then a write through the manager recreates it
    soul_path.unlink()
    assert mgr.current().warning
    rewritten = mgr.write("# Again\n", "cli")
    assert soul_path.read_text(encoding="utf-8") == "# Again\n"
    assert mgr.current() == rewritten


def test_bad_file_at_start_with_empty_store_uses_default(soul_path: Path, store: Store) -> None:
    soul_path.parent.mkdir(parents=True)
    edit_on_disk(soul_path, b"\xff\xfe\x00garbage")
    snap = SoulManager(soul_path, store).current()
    assert snap.text == default_soul_text()
    assert snap.warning
    assert store.soul_latest()["source"] == "default"


def test_bad_file_at_start_uses_latest_stored(soul_path: Path, store: Store) -> None:
    version_id, _ = store.soul_version_add("# Stored\n", "chat")
    soul_path.parent.mkdir(parents=True)
    edit_on_disk(soul_path, b"   ")
    snap = SoulManager(soul_path, store).current()
    assert (snap.version_id, snap.voice.name) == (version_id, "Stored")
    assert snap.warning and "empty" in snap.warning


# --- write, history, revert ------------------------------------------------------------------------

def test_write_is_atomic_and_keeps_mode(mgr: SoulManager, soul_path: Path) -> None:
    mgr.current()
    os.chmod(soul_path, 0o600)
    mgr.write("# Mode\n", "cli")
    assert soul_path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in soul_path.parent.iterdir()] == ["soul.md"]  # no temp files left behind


def test_write_rejects_unusable_text(mgr: SoulManager, soul_path: Path) -> None:
    before = mgr.current()
    for bad in ("", "  \n", "x" * (MAX_SOUL_BYTES + 1), "\x00\x01\x02 binary"):
        with pytest.raises(SoulError):
            mgr.write(bad, "chat")
    assert soul_path.read_text(encoding="utf-8") == before.text
    assert mgr.current() == before


def test_history_and_revert(mgr: SoulManager, soul_path: Path, store: Store) -> None:
    v1 = mgr.current()
    v2 = mgr.write("# Two\n\nTone: formal\n", "chat")
    v3 = mgr.write("# Three\n", "cli")
    assert mgr.write("# Three\n", "cli").version_id == v3.version_id  # same text: no new version
    hist = mgr.history(10)
    assert [(h["id"], h["source"]) for h in hist] == [(v3.version_id, "cli"), (v2.version_id, "chat"),
                                                      (v1.version_id, "default")]
    assert hist[1]["text"] == "# Two\n\nTone: formal\n"
    assert len(mgr.history(2)) == 2

    back = mgr.revert(v2.version_id)
    assert soul_path.read_text(encoding="utf-8") == "# Two\n\nTone: formal\n"
    assert back.version_id not in (v1.version_id, v2.version_id, v3.version_id)
    assert back.voice == Voice(name="Two", formal=True)
    assert store.soul_latest()["source"] == "revert"
    assert mgr.current() == back
    with pytest.raises(SoulError):
        mgr.revert(9999)


# --- pure parsing ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "voice"), [
    ("# Claw\nTone: casual\nLength: normal\n", Voice("Claw", False, False)),
    ("# Jeeves\n\n## Voice\n- Tone: formal\n- Length: concise\n", Voice("Jeeves", True, True)),
    ("# **Max**  #\n- **Tone:** Formal\n- *Length*: Brief\n", Voice("Max", True, True)),
    ("## Voice\nTone: formal\n", Voice("Claw", True, False)),  # no title: default name
    ("intro\n# First\n# Second\n", Voice("First", False, False)),
    ("# A\nTone: formal\nTone: casual\n", Voice("A", True, False)),  # first field wins
    ("<!-- # Hidden\nTone: formal -->\n# Shown\n", Voice("Shown", False, False)),
    ("```\n# Code\nLength: concise\n```\n# Real\n", Voice("Real", False, False)),
    ("#NoSpace\nTone:\nLength: 12\n", Voice()),
    ("", Voice()),
    ("\x00\xff garbage \n\n###\n", Voice()),
    ("# " + "N" * 100 + "\n", Voice("N" * 40)),
])
def test_parse_voice(text: str, voice: Voice) -> None:
    assert parse_voice(text) == voice


def test_system_prompt_section_drops_comments_and_trims() -> None:
    text = ("\n\n# Claw\n<!-- owner note\nspanning lines -->\n"
            "- Tone: casual  <!-- casual | formal -->\n\n\n\nBye  \n\n")
    snap = SoulSnapshot(text=text, version_id=1, voice=parse_voice(text), warning=None)
    assert system_prompt_section(snap) == "# Claw\n\n- Tone: casual\n\nBye"
    default = system_prompt_section(SoulSnapshot(default_soul_text(), 1, Voice(), None))
    assert default.startswith("# Claw\n") and "<!--" not in default and "Safety first" in default


# --- chat edits -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("request_text", "expected"), [
    ("be more formal from now on", True),
    ("Please be more concise", True),
    ("stop using emoji", True),
    ("call yourself Jeeves", True),
    ("your name is now Alfred", True),
    ("talk like a pirate", True),
    ("you're too chatty", True),
    ("less formal please", True),
    ("I'd like shorter answers", True),
    ("turn off the kitchen lights", False),
    ("stop the music", False),
    ("stop playing music in the kitchen", False),
    ("set the thermostat to 21", False),
    ("what's your name?", False),
    ("I'll call you later", False),
    ("be quiet", False),
    ("", False),
])
def test_is_soul_edit_request(request_text: str, expected: bool) -> None:
    assert is_soul_edit_request(request_text) is expected


SOUL = default_soul_text()


@pytest.mark.parametrize(("request_text", "voice", "changed_line"), [
    ("be more formal from now on", Voice("Claw", True, False), "+- Tone: formal"),
    ("Be more concise please", Voice("Claw", False, True), "+- Length: concise"),
    ("be brief and formal", Voice("Claw", True, True), "+- Tone: formal"),
    ("don't be so chatty", Voice("Claw", False, True), "+- Length: concise"),
    ("call yourself Jeeves", Voice("Jeeves", False, False), "+# Jeeves"),
    ("your name is now alfred!", Voice("Alfred", False, False), "+# Alfred"),
    ("call yourself Jeeves and be more formal", Voice("Jeeves", True, False), "+# Jeeves"),
])
def test_propose_edit(request_text: str, voice: Voice, changed_line: str) -> None:
    edit = propose_edit(SOUL, request_text)
    assert edit is not None and edit.changed
    assert parse_voice(edit.new_text) == voice
    assert edit.diff.startswith("--- a/soul.md\n+++ b/soul.md\n")
    assert any(line.startswith(changed_line) for line in edit.diff.splitlines())
    # only the asked-for lines change
    removed = [ln for ln in edit.diff.splitlines() if ln.startswith("-") and not ln.startswith("---")]
    assert 1 <= len(removed) <= 2
    assert edit.summary


def test_propose_edit_back_to_casual_and_normal() -> None:
    formal = propose_edit(SOUL, "be formal and concise")
    assert formal is not None
    edit = propose_edit(formal.new_text, "be more relaxed and more detailed")
    assert edit is not None
    assert parse_voice(edit.new_text) == Voice("Claw", False, False)
    assert edit.new_text == SOUL


def test_propose_edit_nothing_to_change() -> None:
    edit = propose_edit(SOUL, "be more casual")
    assert edit is not None
    assert not edit.changed and edit.diff == "" and edit.new_text == SOUL
    assert "already" in edit.summary


def test_propose_edit_other_manner_request_becomes_a_note() -> None:
    edit = propose_edit(SOUL, "Please stop using emoji from now on!")
    assert edit is not None and edit.changed
    assert "+- Stop using emoji." in edit.diff.splitlines()
    assert "## Style notes" in edit.new_text
    again = propose_edit(edit.new_text, "talk like a pirate")
    assert again is not None
    assert again.new_text.count("## Style notes") == 1
    assert again.new_text.rstrip().endswith("- Stop using emoji.\n- Talk like a pirate.")
    assert propose_edit(SOUL, "talk like a pirate", allow_note=False) is None


@pytest.mark.parametrize("request_text", ["turn on the lights", "what's the weather", "play jazz", "hello"])
def test_propose_edit_not_a_soul_request(request_text: str) -> None:
    assert propose_edit(SOUL, request_text) is None


def test_set_field_and_name_add_missing_lines() -> None:
    text = "Just some text.\n"
    named = set_name(text, "Robo")
    assert named.startswith("# Robo\n")
    toned = set_field(named, "tone", "formal")
    assert "## Voice" in toned and parse_voice(toned) == Voice("Robo", True, False)
    both = set_field(toned, "length", "concise")
    assert parse_voice(both) == Voice("Robo", True, True)
    assert both.count("## Voice") == 1
    hidden = "<!-- Tone: casual -->\n# X\n"  # a field inside a comment is not edited
    assert parse_voice(set_field(hidden, "tone", "formal")).formal
    assert "<!-- Tone: casual -->" in set_field(hidden, "tone", "formal")


def test_proposed_edit_applied_through_manager(mgr: SoulManager, store: Store) -> None:
    snap = mgr.current()
    edit = propose_edit(snap.text, "be more formal from now on")
    assert edit is not None
    applied = mgr.write(edit.new_text, "chat")
    assert applied.voice.formal
    assert store.soul_latest()["source"] == "chat"
    assert mgr.current() == applied


# --- LLM edits ------------------------------------------------------------------------------------

class FakeLLM:
    """An async complete(messages) that returns a fixed reply (or raises) and records its calls."""

    def __init__(self, reply: str | Exception) -> None:
        self.reply = reply
        self.calls: list[list[dict]] = []

    async def __call__(self, messages: list[dict]) -> str:
        self.calls.append(messages)
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


async def test_propose_edit_with_llm_good() -> None:
    new = SOUL.replace("emoji rarely.", "never use emoji.")
    llm = FakeLLM(f"```markdown\n{new}```\n")
    edit = await propose_edit_with_llm(SOUL, "stop using emoji", llm)
    assert edit is not None and edit.changed
    assert edit.new_text == new
    assert any(line.startswith("+helps. No filler, no lectures, never use emoji.")
               for line in edit.diff.splitlines())
    assert edit.diff.startswith("--- a/soul.md\n+++ b/soul.md\n")
    assert "stop using emoji" in edit.summary
    (messages,) = llm.calls
    assert messages[0]["role"] == "system"
    assert SOUL in messages[-1]["content"] and "stop using emoji" in messages[-1]["content"]


@pytest.mark.parametrize("reply", [
    "",
    "   \n",
    "# Claw\n" + "arr " * 20000,  # huge
    "Sure! I changed it to be more piratey.",  # no heading: not a soul
    SOUL,  # unchanged
    RuntimeError("model down"),
])
async def test_propose_edit_with_llm_rejects(reply: str | Exception) -> None:
    assert await propose_edit_with_llm(SOUL, "talk like a pirate", FakeLLM(reply)) is None
