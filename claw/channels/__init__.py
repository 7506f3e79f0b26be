"""Channels: how messages reach the claw (one submit each) and how replies leave it; the table is `registry`."""
