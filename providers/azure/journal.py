"""Where the Azure market remembers which provider order each idempotency key started.

Azure's reservation purchase is two calls: ``calculatePrice`` hands out a new
reservation order id, and the purchase is a PUT to that id. The PUT is
idempotent, but only if a retry finds the same id again, so the id is written
here *between* the two calls, before anything is bought. A retry after an
unknown outcome reads it back and looks the order up instead of calculating a
new one (which would buy a second reservation).

The default journal is a small JSON file, rewritten atomically; the executor
may pass its own (for example one backed by its intents table).
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

from providers.jsonfile import write_json_atomically


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """An order started for an idempotency key: what kind, its provider id, and its details."""

    kind: str
    order_id: str
    detail: str = ""


class OrderJournal(Protocol):
    """A durable map from idempotency key to the provider order it started."""

    def get(self, idempotency_key: str) -> JournalEntry | None:
        """The entry written for this key, if any."""
        ...

    def put(self, idempotency_key: str, entry: JournalEntry) -> None:
        """Record an entry durably before the provider is asked to act on it."""
        ...


class MemoryJournal:
    """A journal in memory (tests, dry runs): lost when the process ends."""

    def __init__(self) -> None:
        self.entries: dict[str, JournalEntry] = {}

    def get(self, idempotency_key: str) -> JournalEntry | None:
        """The entry for this key, if any."""
        return self.entries.get(idempotency_key)

    def put(self, idempotency_key: str, entry: JournalEntry) -> None:
        """Keep the entry."""
        self.entries[idempotency_key] = entry


class FileJournal:
    """A journal in one JSON file, replaced atomically on every write (fsync, then rename)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, idempotency_key: str) -> JournalEntry | None:
        """The entry for this key, if any."""
        raw = self._read().get(idempotency_key)
        return JournalEntry(**raw) if raw else None

    def put(self, idempotency_key: str, entry: JournalEntry) -> None:
        """Add the entry and replace the file atomically."""
        with self._lock:
            data = self._read()
            data[idempotency_key] = asdict(entry)
            write_json_atomically(self.path, data)
