"""Channels: how messages reach the claw and how replies leave it (console, web, later WhatsApp)."""
