"""Helpers for running real Strata parts in tests and on a developer machine."""
