"""The provider protocol and the registry of providers.

Each cloud lives in its own sub-package and is imported lazily by the registry,
so that importing Ladder never imports a cloud SDK that is not used.
Providers return Ladder's own types, never SDK objects.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from core.domain import Catalog, Commitment


@runtime_checkable
class Provider(Protocol):
    """What Ladder needs from a cloud: usage, prices and the commitments it owns."""

    name: str

    def usage_paths(self) -> Sequence[Path]:
        """FOCUS files (CSV or Parquet) or folders holding this provider's billing usage."""
        ...

    def catalog(self) -> Catalog:
        """The usage keys with on-demand rates and the offerings that can be bought."""
        ...

    def inventory(self, at: datetime) -> Sequence[Commitment]:
        """Commitments owned and active at ``at`` (or starting later)."""
        ...


# name -> "module:factory"; the module is imported only when the provider is asked for.
_REGISTRY: dict[str, str] = {
    "sample": "providers.sample:SampleProvider",
}


def register(name: str, target: str) -> None:
    """Register a provider factory by dotted path (``module:attribute``)."""
    _REGISTRY[name] = target


def provider_names() -> list[str]:
    """Names of every registered provider."""
    return sorted(_REGISTRY)


def get_provider(name: str) -> Provider:
    """Instantiate the provider registered under ``name``."""
    try:
        target = _REGISTRY[name]
    except KeyError as exc:
        raise KeyError(
            f"unknown provider {name!r}; known: {', '.join(provider_names())}"
        ) from exc
    module_name, _, attribute = target.partition(":")
    factory: Callable[[], Provider] = getattr(importlib.import_module(module_name), attribute)
    return factory()
