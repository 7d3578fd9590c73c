"""Map page callbacks: KPIs and sparkline, and the live map patch (shared by every page with a live map)."""
from __future__ import annotations

from dash import MATCH, Input, Output, State, no_update

from gridsim.app.figures import kpi_items, map_figure, map_patch, sparkline_figure
from gridsim.app.guard import mapping, text
from gridsim.app.map_layout import kpi_cards

__all__ = ["register_callbacks"]


def register_callbacks(app, service) -> None:
    geom = service.geometry

    @app.callback(Output({"type": "livemap", "page": MATCH}, "figure"),
                  Output({"type": "livemap-v", "page": MATCH}, "data"),
                  Input("poll", "n_intervals"), Input("selected-outage", "data"),
                  State({"type": "livemap-v", "page": MATCH}, "data"))
    def update_map(_n, selected, shown):
        """Send this browser what changed since the version its map shows (the whole figure if that
        version is no longer known, e.g. after a restart)."""
        snap = service.snapshot()
        shown = mapping(shown)
        if not isinstance(shown.get("v"), int) or isinstance(shown.get("v"), bool):
            shown = {**shown, "v": None}          # a version this browser cannot have: send the whole figure
        hl = text(selected)
        hl_changed = hl != shown.get("hl")
        if shown.get("v") == snap.version and not hl_changed:
            return no_update, no_update
        new = service.map_state(snap)
        old = service.map_state_at(shown.get("v"))
        if old is None or not service.config.map_patch:
            return map_figure(geom, new, snap=snap, highlight=hl, background=service.background), {"v": new.version, "hl": hl}
        patch = map_patch(geom, old, new, snap=snap, highlight=hl, highlight_changed=hl_changed)
        return (no_update if patch is None else patch), {"v": new.version, "hl": hl}

    @app.callback(Output("kpis", "children"), Output("sparkline", "figure"), Output("kpi-v", "data"),
                  Input("poll", "n_intervals"), State("kpi-v", "data"))
    def update_kpis(_n, shown):
        snap = service.snapshot()
        cards = kpi_cards(kpi_items(snap, service.queue_depths()))
        if shown == snap.version:
            return cards, no_update, no_update
        return cards, sparkline_figure(snap.customers_out_series), snap.version
