"""Commitments: the inventory, and what expires soon."""
