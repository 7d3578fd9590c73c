"""gridsim web app entry point: builds the Dash app and runs the server.

For now a single page draws the bundled model (buses coloured energized / not,
critical customers marked) from the model's own coordinates on a blank
background — no map tiles. The dispatcher's pages (live map, outages, queues,
what-if, strategies) come with the web-app capability.

    python app.py [--model mv_oberrhein] [--host 127.0.0.1] [--port 8050]
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np
import plotly.graph_objects as go
from dash import Dash, dcc, html

from gridsim import compile_topology, energized, load_model


def model_figure(model, topo) -> go.Figure:
    """Pure function: a figure of the model's buses and lines from `net.bus.geo`."""
    net = model.net
    if "x" in net.bus and "y" in net.bus:
        xy = net.bus[["x", "y"]].to_numpy(float)
    else:
        geo = net.bus["geo"] if "geo" in net.bus else None
        xy = np.full((len(net.bus), 2), np.nan)
        if geo is not None:
            for i, g in enumerate(geo.to_numpy()):
                if isinstance(g, str):
                    xy[i] = json.loads(g)["coordinates"][:2]
    pos = {b: i for i, b in enumerate(net.bus.index)}
    lx, ly = [], []
    for f, t in zip(net.line.from_bus.to_numpy(), net.line.to_bus.to_numpy()):
        lx += [xy[pos[f], 0], xy[pos[t], 0], None]
        ly += [xy[pos[f], 1], xy[pos[t], 1], None]
    en = energized(topo).to_numpy()
    fig = go.Figure()
    fig.add_trace(go.Scattergl(x=lx, y=ly, mode="lines", line=dict(color="#999", width=1), name="lines",
                               hoverinfo="skip"))
    fig.add_trace(go.Scattergl(x=xy[:, 0], y=xy[:, 1], mode="markers", name="buses",
                               marker=dict(size=5, color=np.where(en, "#2a9d8f", "#e63946")),
                               text=[f"bus {b}" for b in net.bus.index], hoverinfo="text"))
    crit = model.customers[model.customers["class"].isin([c.value for c in topo.critical_classes])]
    if len(crit):
        ci = [pos[b] for b in crit["bus"]]
        fig.add_trace(go.Scatter(x=xy[ci, 0], y=xy[ci, 1], mode="markers", name="critical customers",
                                 marker=dict(size=12, symbol="star", color="#f4a261"),
                                 text=[f"{r.customer_id} ({r._3})" for r in crit.itertuples()], hoverinfo="text"))
    fig.update_layout(template="plotly_white", margin=dict(l=10, r=10, t=40, b=10), uirevision="model",
                      title=f"{model.name}: {len(net.bus)} buses", xaxis=dict(visible=False),
                      yaxis=dict(visible=False, scaleanchor="x"))
    return fig


def build_app(model_spec: str = "mv_oberrhein") -> Dash:
    model = load_model(model_spec)
    topo = compile_topology(model)
    app = Dash(__name__, title="gridsim", serve_locally=True)
    app.layout = html.Div([html.H3("gridsim"), dcc.Graph(id="map", figure=model_figure(model, topo),
                                                         style={"height": "85vh"})])
    return app


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="gridsim web app")
    ap.add_argument("--model", default="mv_oberrhein")
    ap.add_argument("--host", default=os.environ.get("GRIDSIM_HOST", "127.0.0.1"))
    ap.add_argument("--port", type=int, default=int(os.environ.get("GRIDSIM_PORT", "8050")))
    args = ap.parse_args(argv)
    build_app(args.model).run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":
    main()
