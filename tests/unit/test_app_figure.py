"""The app's model figure is a pure function: every bus of the model is drawn."""
from app import build_app, model_figure

from gridsim import compile_topology, load_model


def test_model_figure_draws_every_bus():
    model = load_model("cigre_mv")
    fig = model_figure(model, compile_topology(model))
    buses = [t for t in fig.data if t.name == "buses"][0]
    assert len(buses.x) == len(model.net.bus)
    crit = [t for t in fig.data if t.name == "critical customers"]
    assert crit and len(crit[0].x) == model.customers["class"].isin(
        ["hospital", "station", "water", "telecom", "government"]).sum()


def test_build_app_has_layout():
    app = build_app("cigre_mv")
    assert app.layout is not None
