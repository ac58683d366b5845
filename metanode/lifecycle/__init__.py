"""Bucket lifecycle: the rule model both the gateway and the metanode read, and the worker that applies it."""
