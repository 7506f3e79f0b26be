"""Routines: the claw acting on its own schedule, exactly once per slot (model, triggers, store, runner, scheduler)."""
