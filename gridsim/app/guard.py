"""Refuse malformed callback requests before Dash reads them.

Dash trusts the body of ``POST /_dash-update-component`` to have the shape its renderer sends (an input
list as long as the callback's, dicts with ``id`` and ``property`` ...); a hand-made or hostile body made it
raise (IndexError, KeyError, TypeError: HTTP 500 with a traceback in the log). This guard checks the envelope
against the app's registered callbacks and answers a malformed one with 400 and a one-line reason. The
values themselves are the callbacks' business (each validates what it reads).
"""
from __future__ import annotations

import json
import logging

import flask

log = logging.getLogger(__name__)

__all__ = ["install_request_guard", "envelope_error"]

_ENDPOINT = "/_dash-update-component"


def _dep_ok(item, want: dict | None) -> bool:
    if isinstance(item, list):                       # an ALL / ALLSMALLER wildcard: a list of dependencies
        return all(_dep_ok(x, None) for x in item)
    if not isinstance(item, dict):
        return False
    i, p = item.get("id"), item.get("property")
    if not isinstance(p, str) or not isinstance(i, (str, dict)):
        return False
    if want is None:
        return True
    wid = want.get("id")
    if isinstance(wid, str) and wid.startswith("{"):     # a pattern-matching id (the map's MATCH callback)
        return isinstance(i, dict) and p == want["property"]
    return i == wid and p == want["property"]


def envelope_error(body, callback_map) -> str | None:
    """Why ``body`` is not a callback request this app can answer (None when it is)."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    key = body.get("output")
    if not isinstance(key, str) or key not in callback_map:
        return "'output' names no callback of this app"
    cb = callback_map[key]
    n_out = len(key.strip(".").split("...")) if key.startswith("..") else 1
    outputs = body.get("outputs")
    if key.startswith(".."):
        if not isinstance(outputs, list) or len(outputs) != n_out or not all(_dep_ok(o, None) for o in outputs):
            return f"'outputs' must list the callback's {n_out} outputs"
    elif not _dep_ok(outputs, None):
        return "'outputs' must be the callback's output ({id, property})"
    for field, want in (("inputs", cb.get("inputs", [])), ("state", cb.get("state", []))):
        items = body.get(field, [] if field == "state" else None)
        if not isinstance(items, list) or len(items) != len(want):
            return f"'{field}' must list the callback's {len(want)} {field}"
        if not all(_dep_ok(it, w) for it, w in zip(items, want)):
            return f"'{field}' holds an item that is not the callback's {{id, property, value}}"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "'changedPropIds' must be a list of 'id.property' strings"
    return None


#: largest callback request accepted (Flask answers 413 above it); the renderer's requests are a few KB
MAX_REQUEST_BYTES = 16 * 1024 * 1024


def install_request_guard(app) -> None:
    server = app.server
    server.config.setdefault("MAX_CONTENT_LENGTH", MAX_REQUEST_BYTES)

    @server.before_request
    def _gridsim_callback_guard():
        req = flask.request
        if req.path != _ENDPOINT or req.method != "POST":
            return None
        try:
            body = req.get_json(silent=True)
        except RecursionError:               # JSON nested deeper than Python's parser goes
            body, why = None, "the body is nested too deeply"
        else:
            why = envelope_error(body, app.callback_map)
        if why is None:
            return None
        log.warning("refused a callback request: %s (output %s)", why,
                    str(body.get("output"))[:200] if isinstance(body, dict) else "?")
        return flask.Response(json.dumps({"error": f"bad callback request: {why}"}), status=400,
                              mimetype="application/json")


# --------------------------------------------------------------------------- values
# A callback's inputs come from the browser: a hand-made request can put any JSON value anywhere. The
# callbacks read them through these (a value of the wrong type counts as "nothing chosen").

def _utf8(value: str) -> bool:
    try:
        value.encode("utf-8")            # a lone surrogate (valid in JSON, not in UTF-8) cannot be sent back
        return True
    except UnicodeEncodeError:
        return False


def text(value, max_len: int = 500) -> str | None:
    """``value`` if it is a string of at most ``max_len`` characters that UTF-8 can hold, else None."""
    return value if isinstance(value, str) and len(value) <= max_len and _utf8(value) else None


def texts(value, max_items: int = 1000, max_len: int = 500) -> list[str]:
    """The strings of a list (at most ``max_items``) as :func:`text` takes them; anything else gives []."""
    if not isinstance(value, list):
        return []
    return [v for v in value[:max_items] if text(v, max_len) is not None]


def mapping(value) -> dict:
    return value if isinstance(value, dict) else {}
