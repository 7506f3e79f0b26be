"""Scenes: named sets of device commands, from the devices' state or from commands, applied by chat and routines."""
