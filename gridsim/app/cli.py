"""``gridsim serve``: the web app (the same as ``python app.py``)."""
from __future__ import annotations

from typing import Optional

import typer

__all__ = ["register"]


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(model: Optional[str] = typer.Option(None, "--model", help="model (default mv_oberrhein)"),
                  replay: Optional[str] = typer.Option(None, "--replay", help="scenario YAML or events .jsonl to "
                                                       "replay (default scenarios/storm_small.yaml when neither "
                                                       "--model nor --live is given)"),
                  live: bool = typer.Option(False, "--live", help="no replay: apply the events of grid.events"),
                  speed: float = typer.Option(60.0, "--speed", help="replay speed (60 = a simulated minute per s)"),
                  queue: Optional[str] = typer.Option(None, "--queue", help="queue URL (sqlite:///... or redis://...)"),
                  db: Optional[str] = typer.Option(None, "--db", help="live state database"),
                  resume: bool = typer.Option(False, "--resume", help="replay: continue the previous run's state"),
                  host: Optional[str] = typer.Option(None, "--host", help="address (GRIDSIM_HOST, 127.0.0.1)"),
                  port: Optional[int] = typer.Option(None, "--port", help="port (GRIDSIM_PORT, 8050)"),
                  poll_ms: Optional[int] = typer.Option(None, "--poll-ms", help="map refresh period, ms (1000)"),
                  hash_password: bool = typer.Option(False, "--hash-password",
                                                     help="read a password and print its hash for GRIDSIM_USERS")):
        """The dispatcher's web app on http://127.0.0.1:8050: live map, outages, queues, what-if, strategies.

        Example: gridsim serve --model mv_oberrhein --replay scenarios/storm_small.yaml --speed 60
        """
        from gridsim.app.config import config_from
        from gridsim.app.server import print_password_hash, serve
        if hash_password:
            raise typer.Exit(print_password_hash())
        serve(config_from(model=model, replay=replay, live=live, speed=speed, queue=queue, db=db, resume=resume,
                          host=host, port=port, poll_ms=poll_ms))
