"""Templated replies: device and state phrasing (local) and conversation-flow phrasing."""
