"""Backups: `claw backup` / `claw restore` (manifest logic in `manifest`, the archive I/O in `archive`)."""
