"""Cameras in the claw: the supervised watchers, camera events in memory, alerts to the owner."""
