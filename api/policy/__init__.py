"""Policies: read them (everyone), change them (admin)."""
