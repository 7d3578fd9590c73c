"""Users, roles and the server-side checks of the web app.

Roles: ``viewer`` reads every page; ``operator`` also changes the live state
(operates switches, dispatches crews, publishes planned-outage notices,
acknowledges escalations) and starts strategy comparisons.

Users come from (first found):

- ``GRIDSIM_USERS_FILE``: a YAML or JSON file ::

      users:
        alice: {role: operator, password_hash: "scrypt:32768:8:1$..."}
        bob:   {role: viewer,   password_hash: "pbkdf2:sha256:600000$..."}

- ``GRIDSIM_USERS``: ``name:role:hash`` entries separated by commas;
- nothing: the server makes up an ``operator`` and a ``viewer`` with random
  passwords at start and prints them (nothing is written to disk).

Passwords are stored only as werkzeug hashes (``python app.py --hash-password``
prints one); a plain password in the configuration is refused.

Sign-in is a small form at ``/login`` (CSRF token, a delay after each failure,
a lock-out after many); the session is Flask's signed cookie (``HttpOnly``,
``SameSite=Strict``, 12 h), signed with ``GRIDSIM_SECRET_KEY`` or a key made at
start. Every request except ``/login``, ``/logout`` and ``/_gridsim/health``
needs a signed-in user: pages redirect to ``/login``, everything else (Dash's
callback, layout and asset routes) answers 401. Every state-changing callback
is registered with :func:`operator_callback`, which checks the role on the
server before the callback body runs and answers 403 to anyone else — a page
that merely hides a button would not be enough. The session is re-checked
against the configured users on every request, so a removed user or a
changed password ends the sessions at once.
"""
from __future__ import annotations

import functools
import hashlib
import html
import json
import os
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote

import flask
from werkzeug.security import check_password_hash, generate_password_hash

from gridsim.app.config import AppConfigError

__all__ = ["Role", "User", "Users", "load_users", "hash_password", "install_auth", "current_user",
           "require_operator", "operator_callback", "operator_callback_ids", "PUBLIC_PATHS"]

_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_HASH_PREFIXES = ("scrypt:", "pbkdf2:")
PUBLIC_PATHS = frozenset({"/login", "/logout", "/_gridsim/health"})
SESSION_HOURS = 12
_MAX_FAILURES = 10          # failures of one user name before a lock-out
_LOCKOUT_S = 300.0


class Role(StrEnum):
    VIEWER = "viewer"
    OPERATOR = "operator"


@dataclass(frozen=True)
class User:
    name: str
    role: Role
    password_hash: str

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR

    @property
    def fingerprint(self) -> str:
        """Changes when the password does: old sessions stop working."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Users:
    users: dict
    source: str                          # where they came from (for the start banner)
    generated: dict | None = None        # name -> password made up at start (printed once)

    def get(self, name: str) -> User | None:
        return self.users.get(name)


def hash_password(password: str) -> str:
    """A werkzeug hash of ``password`` (scrypt) for ``GRIDSIM_USERS`` or the users file."""
    if not password:
        raise AppConfigError("an empty password cannot be hashed")
    return generate_password_hash(password)


def _user(name: str, role: str, pw_hash: str, where: str) -> User:
    if not _NAME_RE.match(name or ""):
        raise AppConfigError(f"{where}: user name {name!r} must be 1-32 letters, digits, '_', '.' or '-'")
    try:
        r = Role(str(role).strip().lower())
    except ValueError:
        raise AppConfigError(f"{where}: user {name!r} has role {role!r}; use 'viewer' or 'operator'") from None
    pw_hash = str(pw_hash or "").strip()
    if not pw_hash.startswith(_HASH_PREFIXES) or "$" not in pw_hash:
        raise AppConfigError(f"{where}: user {name!r} needs a password hash (scrypt:... or pbkdf2:...), not a plain "
                             "password; make one with `python app.py --hash-password`")
    return User(name, r, pw_hash)


def _users_from_file(path: Path) -> dict:
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise AppConfigError(f"GRIDSIM_USERS_FILE={path}: cannot read it: {e.strerror}") from None
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml
            data = yaml.safe_load(text)
    except Exception as e:  # noqa: BLE001 - YAML and JSON raise different errors; both mean a malformed file
        raise AppConfigError(f"{where}: not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {e}") from None
    users = data.get("users") if isinstance(data, dict) else None
    if not isinstance(users, dict) or not users:
        raise AppConfigError(f"{where}: expected a mapping 'users: {{name: {{role: ..., password_hash: ...}}}}'")
    out = {}
    for name, spec in users.items():
        if not isinstance(spec, dict):
            raise AppConfigError(f"{where}: user {name!r}: give role and password_hash")
        out[str(name)] = _user(str(name), spec.get("role", ""), spec.get("password_hash", ""), where)
    return out


def _users_from_env(raw: str) -> dict:
    out = {}
    for k, entry in enumerate(e for e in raw.split(",") if e.strip()):
        parts = entry.strip().split(":", 2)
        if len(parts) != 3:
            raise AppConfigError(f"GRIDSIM_USERS entry {k + 1}: expected name:role:hash (e.g. "
                                 "alice:operator:scrypt:32768:8:1$...), got something with "
                                 f"{len(parts)} part(s)")
        name, role, h = parts
        if name in out:
            raise AppConfigError(f"GRIDSIM_USERS: user {name!r} is given twice")
        out[name] = _user(name, role, h, f"GRIDSIM_USERS entry {k + 1}")
    if not out:
        raise AppConfigError("GRIDSIM_USERS is set but empty; unset it or give name:role:hash entries")
    return out


def load_users(environ=None) -> Users:
    """The users of the app (see the module docstring); generates two when none are configured."""
    env = os.environ if environ is None else environ
    path = env.get("GRIDSIM_USERS_FILE")
    if path:
        return Users(_users_from_file(Path(path)), f"GRIDSIM_USERS_FILE={path}")
    raw = env.get("GRIDSIM_USERS")
    if raw is not None:
        return Users(_users_from_env(raw), "GRIDSIM_USERS")
    gen = {"operator": secrets.token_urlsafe(12), "viewer": secrets.token_urlsafe(12)}
    users = {"operator": User("operator", Role.OPERATOR, generate_password_hash(gen["operator"])),
             "viewer": User("viewer", Role.VIEWER, generate_password_hash(gen["viewer"]))}
    return Users(users, "generated at start (set GRIDSIM_USERS or GRIDSIM_USERS_FILE to choose)", gen)


# --------------------------------------------------------------------------- per-request checks

def _users() -> Users:
    return flask.current_app.extensions["gridsim_auth"].users


def current_user() -> User | None:
    """The signed-in user of this request (re-checked against the configured users), or None."""
    if not flask.has_request_context():
        return None
    cached = getattr(flask.g, "gridsim_user", False)
    if cached is not False:
        return cached
    user = None
    name = flask.session.get("user")
    if isinstance(name, str):
        u = _users().get(name)
        started = flask.session.get("since", 0)
        if u is not None and flask.session.get("fp") == u.fingerprint and \
                isinstance(started, (int, float)) and time.time() - started < SESSION_HOURS * 3600:
            user = u
    flask.g.gridsim_user = user
    return user


def require_operator() -> User:
    """The signed-in operator, else abort: 401 (nobody signed in) or 403 (not an operator)."""
    user = current_user()
    if user is None:
        flask.abort(401, description="sign in first")
    if not user.is_operator:
        flask.current_app.logger.warning("refused: %s (role %s) tried an operator action", user.name, user.role)
        flask.abort(403, description="operator role required")
    return user


def operator_callback(app, *dependencies, **kwargs):
    """``app.callback`` for a state-changing callback: the body runs only for a signed-in operator, who is
    passed as the first argument (``def cb(user, *inputs)``); anyone else gets 403 (401 if not signed in).
    The callback's outputs are recorded so that tests can find every protected callback."""
    def decorate(fn):
        def guarded(*args, **kw):
            user = require_operator()
            return fn(user, *args, **kw)
        guarded.__name__ = fn.__name__
        guarded.__doc__ = fn.__doc__
        before = set(app.callback_map)
        app.callback(*dependencies, **kwargs)(guarded)
        app.server.config.setdefault("GRIDSIM_OPERATOR_CALLBACKS", []).extend(sorted(set(app.callback_map) - before))
        return fn
    return decorate


def operator_callback_ids(app) -> list[str]:
    """Keys of ``app.callback_map`` registered through :func:`operator_callback`."""
    return list(app.server.config.get("GRIDSIM_OPERATOR_CALLBACKS", []))


# --------------------------------------------------------------------------- sign-in pages

class _AuthState:
    def __init__(self, users: Users):
        self.users = users
        self.lock = threading.Lock()
        self.failures: dict[str, tuple[int, float]] = {}    # user name -> (count, last failure time)

    def locked(self, name: str) -> bool:
        with self.lock:
            n, t = self.failures.get(name, (0, 0.0))
            if n >= _MAX_FAILURES and time.time() - t < _LOCKOUT_S:
                return True
            if n >= _MAX_FAILURES:
                self.failures.pop(name, None)
            return False

    def fail(self, name: str) -> int:
        with self.lock:
            n, _ = self.failures.get(name, (0, 0.0))
            self.failures[name] = (n + 1, time.time())
            if len(self.failures) > 10_000:          # do not let made-up names grow it without bound
                self.failures.clear()
            return n + 1

    def ok(self, name: str) -> None:
        with self.lock:
            self.failures.pop(name, None)


_LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>gridsim - sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">
<style>
body {{ font-family: system-ui, sans-serif; background: #f2f4f7; margin: 0; }}
form {{ max-width: 320px; margin: 12vh auto; background: #fff; padding: 28px 32px; border-radius: 8px;
       box-shadow: 0 2px 10px rgba(0,0,0,.08); }}
h1 {{ font-size: 20px; margin: 0 0 4px; }} p.sub {{ color: #667; margin: 0 0 18px; font-size: 13px; }}
label {{ display: block; font-size: 13px; margin: 12px 0 4px; color: #333; }}
input {{ width: 100%; box-sizing: border-box; padding: 8px; border: 1px solid #bbc; border-radius: 4px; }}
button {{ margin-top: 18px; width: 100%; padding: 9px; background: #1d3557; color: #fff; border: 0;
         border-radius: 4px; font-size: 15px; cursor: pointer; }}
.err {{ color: #b00020; font-size: 13px; margin-top: 12px; }}
</style></head><body>
<form method="post" action="/login" id="login-form">
<h1>gridsim</h1><p class="sub">dispatcher's console &mdash; sign in</p>
<input type="hidden" name="csrf" value="{csrf}"><input type="hidden" name="next" value="{next}">
<label for="username">User</label><input id="username" name="username" autocomplete="username" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<button type="submit" id="login-button">Sign in</button>{error}
</form></body></html>"""


def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(error: str = "", status: int = 200):
    csrf = flask.session.get("csrf")
    if not csrf:
        csrf = secrets.token_urlsafe(24)
        flask.session["csrf"] = csrf
    nxt = _safe_next(flask.request.values.get("next"))
    body = _LOGIN_PAGE.format(csrf=html.escape(csrf), next=html.escape(nxt),
                              error=f'<div class="err" id="login-error">{html.escape(error)}</div>' if error else "")
    return flask.Response(body, status=status, mimetype="text/html")


def install_auth(app, users: Users, *, secret_key: str | None = None) -> None:
    """Sign-in routes, the per-request check and the session settings, on ``app.server``."""
    server = app.server
    key = secret_key or os.environ.get("GRIDSIM_SECRET_KEY") or secrets.token_hex(32)
    if len(key) < 16:
        raise AppConfigError("GRIDSIM_SECRET_KEY is shorter than 16 characters; use e.g. the output of "
                             "`python -c 'import secrets; print(secrets.token_hex(32))'`")
    server.secret_key = key
    server.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Strict",
                         SESSION_COOKIE_NAME="gridsim_session",
                         PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS))
    state = _AuthState(users)
    server.extensions["gridsim_auth"] = state

    @server.before_request
    def _gridsim_require_login():
        req = flask.request
        if req.path in PUBLIC_PATHS:
            return None
        if current_user() is not None:
            return None
        wants_page = req.method == "GET" and not req.path.startswith(("/_dash", "/_reload", "/assets")) and \
            "text/html" in (req.headers.get("Accept") or "")
        if wants_page:
            return flask.redirect("/login?next=" + quote(_safe_next(req.full_path.rstrip("?")), safe="/?=&"))
        return flask.Response(json.dumps({"error": "sign in first (POST /login)"}), status=401,
                              mimetype="application/json")

    @server.after_request
    def _gridsim_headers(resp):
        h = resp.headers
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("Referrer-Policy", "no-referrer")
        # the page may talk to this server only (no CDN, no tiles, no beacons)
        h.setdefault("Content-Security-Policy",
                     "default-src 'self'; script-src 'self' 'unsafe-inline' 'unsafe-eval'; "
                     "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; "
                     "connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'; form-action 'self'")
        return resp

    @server.route("/_gridsim/health")
    def _gridsim_health():
        return flask.jsonify({"ok": True})

    @server.route("/login", methods=["GET", "POST"])
    def _gridsim_login():
        if flask.request.method == "GET":
            return _login_page()
        form = flask.request.form
        sent = form.get("csrf", "")
        if not sent or not secrets.compare_digest(sent, flask.session.get("csrf") or ""):
            return _login_page("The form expired; please try again.", 400)
        name = (form.get("username") or "").strip()[:64]
        password = form.get("password") or ""
        if state.locked(name):
            return _login_page("Too many failed attempts; try again in a few minutes.", 429)
        user = users.get(name)
        # hash even for unknown names so that timing does not tell which names exist
        ok = check_password_hash(user.password_hash if user else _dummy_hash(), password) and user is not None
        if not ok:
            n = state.fail(name)
            time.sleep(min(0.25 * n, 2.0))
            server.logger.warning("failed sign-in for %r from %s", name, flask.request.remote_addr)
            return _login_page("Unknown user or wrong password.", 401)
        state.ok(name)
        flask.session.clear()
        flask.session.permanent = True
        flask.session.update(user=user.name, fp=user.fingerprint, since=time.time(),
                             csrf=secrets.token_urlsafe(24))
        server.logger.info("%s signed in (%s)", user.name, user.role)
        return flask.redirect(_safe_next(form.get("next")))

    @server.route("/logout", methods=["GET", "POST"])
    def _gridsim_logout():
        flask.session.clear()
        return flask.redirect("/login")


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return generate_password_hash(secrets.token_hex(8))
