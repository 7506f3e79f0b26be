"""Drivers: one per protocol family, each translating library errors into devices.errors."""
