"""Run the web app: ``python app.py`` and ``gridsim serve`` (same flags, see :mod:`gridsim.app.config`)."""
from __future__ import annotations

import getpass
import ipaddress
import logging
import sys

from gridsim.app.config import AppConfig, AppConfigError, parse_args
from gridsim.errors import GridsimError

__all__ = ["main", "serve", "print_password_hash", "run_options", "quiet_request_handler"]


def print_password_hash() -> int:
    from gridsim.app.auth import hash_password
    if sys.stdin.isatty():
        pw = getpass.getpass("password: ")
        if pw != getpass.getpass("again: "):
            print("error: the two passwords differ", file=sys.stderr)
            return 2
    else:
        pw = sys.stdin.readline().rstrip("\n")
    print(hash_password(pw))
    return 0


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def quiet_request_handler():
    """werkzeug's request handler without the version banner: ``Server: gridsim`` instead of
    ``Werkzeug/x.y Python/3.z`` (no version leak to a scanner; Flask's after_request cannot change it)."""
    from werkzeug.serving import WSGIRequestHandler

    class QuietHandler(WSGIRequestHandler):
        def version_string(self) -> str:
            return "gridsim"

    return QuietHandler


def run_options(config: AppConfig) -> dict:
    """Keyword arguments of ``app.run`` (what :func:`serve` uses)."""
    return dict(host=config.host, port=config.port, debug=False, use_reloader=False, threaded=True,
                request_handler=quiet_request_handler())


def serve(config: AppConfig) -> None:
    """Start the engine feed and serve the app until interrupted."""
    from gridsim.app.auth import load_users
    from gridsim.app.factory import build_app
    from gridsim.app.service import LiveService
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)     # no line per poll
    logging.getLogger("pandapower").setLevel(logging.WARNING)
    users = load_users()
    service = LiveService(config)
    app = build_app(service, users)
    url = f"http://{config.host}:{config.port}"
    lines = [f"gridsim web app on {url}  (model {config.model}, "
             + (f"replay of {config.replay} at x{config.speed:g}" if config.replay else "live on grid.events")
             + f", queue {service.engine.queue.url if service.engine.queue is not None else '-'})",
             f"users: {users.source}"]
    if users.generated:
        lines += [f"  operator  password: {users.generated['operator']}",
                  f"  viewer    password: {users.generated['viewer']}"]
    if not _loopback(config.host):
        lines.append(f"WARNING: bound to {config.host}, reachable from other machines; the app speaks plain HTTP: "
                     "put it behind a TLS proxy")
    print("\n".join(lines), flush=True)
    service.start()
    try:
        app.run(**run_options(config))
    finally:
        service.close()


def main(argv=None) -> int:
    try:
        cfg, ns = parse_args(argv)
        if cfg is None:
            return print_password_hash()
        serve(cfg)
    except KeyboardInterrupt:
        return 130
    except GridsimError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


__all__ += ["AppConfigError"]
