"""The SQLite memory store and its migrations."""
