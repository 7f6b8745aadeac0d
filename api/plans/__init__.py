"""Plans: list, show with actions and reasons, approve, reject."""
