"""Loopback fakes of external services (wire-protocol simulators) shared by the tests."""
