"""The app's pages: one ``<page>_layout.py`` + ``<page>_callbacks.py`` pair each, listed in :data:`PAGES`."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gridsim.app import (map_callbacks, map_layout, outages_callbacks, outages_layout, queues_callbacks,
                         queues_layout, strategies_callbacks, strategies_layout, whatif_callbacks, whatif_layout)

__all__ = ["Page", "PAGES"]


@dataclass(frozen=True)
class Page:
    key: str
    path: str
    name: str
    layout: Callable            # (service, user or None) -> component
    register_callbacks: Callable  # (app, service) -> None


PAGES = (
    Page("map", "/", "Map", map_layout.layout, map_callbacks.register_callbacks),
    Page("outages", "/outages", "Outages", outages_layout.layout, outages_callbacks.register_callbacks),
    Page("queues", "/queues", "Queues", queues_layout.layout, queues_callbacks.register_callbacks),
    Page("whatif", "/whatif", "What-if", whatif_layout.layout, whatif_callbacks.register_callbacks),
    Page("strategies", "/strategies", "Strategies", strategies_layout.layout, strategies_callbacks.register_callbacks),
)
