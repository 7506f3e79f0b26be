"""The soul: the owner-editable soul.md (manager) and chat-proposed edits (edit)."""
