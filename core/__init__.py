"""Ladder's core: the domain vocabulary, settings, the database and the billing engine.

Nothing in ``core`` imports any other package of Ladder.
"""
