"""Composition: the ``ladder`` CLI and the end-to-end run."""
