"""Settings of the web app, from command-line flags and the environment.

=========================  =====================================================
flag                       environment / default
=========================  =====================================================
``--host``                 ``GRIDSIM_HOST`` / ``127.0.0.1``
``--port``                 ``GRIDSIM_PORT`` / ``8050``
``--model``                ``mv_oberrhein``
``--replay FILE``          ``scenarios/storm_small.yaml`` when neither ``--model``
                           nor ``--live`` is given; otherwise no replay
``--live``                 run on the ``grid.events`` inbound queue, no replay
``--speed``                ``60`` (one simulated minute per second)
``--queue URL``            replay: ``sqlite:///var/replay.db`` (started afresh
                           unless ``--resume``); live: ``GRIDSIM_QUEUE`` /
                           ``sqlite:///var/gridsim.db``
``--db PATH``              the engine's database (default: the SQLite queue file)
``--poll-ms``              ``GRIDSIM_POLL_MS`` / ``1000`` (map refresh period)
users                      ``GRIDSIM_USERS`` or ``GRIDSIM_USERS_FILE`` (see
                           :mod:`gridsim.app.auth`)
secret key                 ``GRIDSIM_SECRET_KEY``, else generated at start
strategy results           ``GRIDSIM_RESULTS_DIRS`` (``:``-separated) / ``out``,
                           ``var/compare``
=========================  =====================================================
"""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

from gridsim.errors import GridsimError

__all__ = ["AppConfig", "AppConfigError", "DEMO_SCENARIO", "parse_args", "add_arguments"]

#: the bundled storm replayed by ``python app.py`` / ``make run``
DEMO_SCENARIO = "scenarios/storm_small.yaml"
DEMO_MODEL = "mv_oberrhein"
REPLAY_QUEUE = "sqlite:///var/replay.db"
LIVE_QUEUE = "sqlite:///var/gridsim.db"


class AppConfigError(GridsimError):
    """A setting of the web app is wrong (the message says which and how to fix it)."""


@dataclass(frozen=True)
class AppConfig:
    """Everything the app needs to start (see the module docstring for the defaults)."""

    model: str = DEMO_MODEL
    replay: str | None = None            # scenario YAML or events .jsonl; None: live on grid.events
    speed: float = 60.0
    queue: str | None = None             # None: the default for the mode
    db: str | None = None
    resume: bool = False                 # replay: keep the state of a previous run instead of starting afresh
    host: str = "127.0.0.1"
    port: int = 8050
    poll_ms: int = 1000
    results_dirs: tuple[str, ...] = ("out", "var/compare")
    compare_out: str = "var/compare"
    map_patch: bool = True               # False: every map update sends the whole figure (benchmark baseline)
    crews: object = None                 # live mode: LiveOptions.crews (default: the engine's)
    extra: dict = field(default_factory=dict)

    @property
    def queue_url(self) -> str:
        if self.queue:
            return self.queue
        if self.replay:
            return REPLAY_QUEUE
        return os.environ.get("GRIDSIM_QUEUE") or LIVE_QUEUE

    @property
    def fresh_replay(self) -> bool:
        """A replay on the default queue starts from an empty state (so every ``make run`` shows the storm)."""
        return bool(self.replay) and not self.queue and not self.db and not self.resume


def add_arguments(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--model", default=None, help=f"model to run (default {DEMO_MODEL})")
    ap.add_argument("--replay", default=None, help=f"scenario YAML or events .jsonl to replay (default "
                                                    f"{DEMO_SCENARIO} when neither --model nor --live is given)")
    ap.add_argument("--live", action="store_true", help="no replay: apply the events of the grid.events queue")
    ap.add_argument("--speed", type=float, default=60.0, help="replay speed: 60 = one simulated minute per second")
    ap.add_argument("--queue", default=None, help="queue URL (sqlite:///... or redis://...)")
    ap.add_argument("--db", default=None, help="live state database (default: the SQLite queue file)")
    ap.add_argument("--resume", action="store_true", help="replay: continue the state a previous run left")
    ap.add_argument("--host", default=None, help="address to bind (GRIDSIM_HOST, default 127.0.0.1)")
    ap.add_argument("--port", type=int, default=None, help="port (GRIDSIM_PORT, default 8050)")
    ap.add_argument("--poll-ms", type=int, default=None, help="map refresh period in ms (GRIDSIM_POLL_MS, 1000)")


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise AppConfigError(f"{name}={raw!r} is not a whole number; unset it or give e.g. {default}") from None


def config_from(model: str | None = None, replay: str | None = None, live: bool = False, speed: float = 60.0,
                queue: str | None = None, db: str | None = None, resume: bool = False, host: str | None = None,
                port: int | None = None, poll_ms: int | None = None) -> AppConfig:
    """An :class:`AppConfig` from flag values (None = not given), the environment and the demo defaults."""
    if replay is not None and live:
        raise AppConfigError("give either --replay FILE or --live, not both")
    if replay is None and not live and model is None:
        replay = DEMO_SCENARIO
    if replay is not None and replay.lower() == "none":
        replay = None
    if replay is not None and not Path(replay).is_file():
        raise AppConfigError(f"--replay {replay}: no such file; give a scenario YAML (e.g. {DEMO_SCENARIO}) "
                             "or a JSON-lines events file")
    if speed < 0:
        raise AppConfigError(f"--speed must be >= 0 (0 = as fast as possible), got {speed:g}")
    host = host or os.environ.get("GRIDSIM_HOST") or "127.0.0.1"
    port = port if port is not None else _env_int("GRIDSIM_PORT", 8050)
    if not 0 <= port < 65536:
        raise AppConfigError(f"port {port} is out of range 0..65535")
    poll = poll_ms if poll_ms is not None else _env_int("GRIDSIM_POLL_MS", 1000)
    if not 100 <= poll <= 60_000:
        raise AppConfigError(f"poll period {poll} ms is out of range 100..60000")
    dirs = os.environ.get("GRIDSIM_RESULTS_DIRS")
    results = tuple(d for d in dirs.split(os.pathsep) if d) if dirs else ("out", "var/compare")
    if model is None and replay is not None and replay.endswith((".yaml", ".yml")):
        from gridsim.scenarios import load_scenario
        model = load_scenario(replay).model
    return AppConfig(model=model or DEMO_MODEL, replay=replay, speed=float(speed), queue=queue, db=db,
                     resume=resume, host=host, port=int(port), poll_ms=int(poll), results_dirs=results)


def parse_args(argv=None) -> tuple[AppConfig, argparse.Namespace]:
    ap = argparse.ArgumentParser(prog="app.py", description="gridsim web app: live map, outages, queues, what-if, "
                                                            "strategies (http://127.0.0.1:8050)")
    add_arguments(ap)
    ap.add_argument("--hash-password", action="store_true",
                    help="read a password (prompt or stdin) and print its hash for GRIDSIM_USERS / the users file")
    ns = ap.parse_args(argv)
    if ns.hash_password:
        return None, ns
    cfg = config_from(model=ns.model, replay=ns.replay, live=ns.live, speed=ns.speed, queue=ns.queue, db=ns.db,
                      resume=ns.resume, host=ns.host, port=ns.port, poll_ms=ns.poll_ms)
    return cfg, ns
