"""One human-readable line per message, for ``gridsim consume`` and the web app.

The generic line is ``created_at  schema-name  key=value ...`` with the main
fields first. The engine registers specific renderers by schema name::

    register_renderer("gridsim.outage_notice", lambda m: f"... {m['area']} ...")

A name without ``/version`` applies to every version of the schema; an exact
``name/version`` wins over it.
"""
from __future__ import annotations

from collections.abc import Callable

__all__ = ["render_message", "register_renderer", "unregister_renderer"]

_RENDERERS: dict[str, Callable[[dict], str]] = {}
# fields shown first, in this order, when present; then the others in message order
_MAIN = ("outage_id", "work_order_id", "call_id", "customer_id", "status", "department", "owner", "area",
         "customers", "critical", "cause", "start", "etr", "due_at", "text")
_HIDDEN = {"id", "schema", "created_at"}
_MAX_VALUE = 60
_MAX_LINE = 240


def register_renderer(schema_name: str, fn: Callable[[dict], str]) -> None:
    """Render messages of ``schema_name`` (``gridsim.x`` or ``gridsim.x/1``) with ``fn(message) -> str``."""
    if not isinstance(schema_name, str) or not schema_name:
        raise ValueError("schema_name must be a non-empty string such as 'gridsim.outage_notice/1'")
    _RENDERERS[schema_name] = fn


def unregister_renderer(schema_name: str) -> None:
    _RENDERERS.pop(schema_name, None)


def _short(v) -> str:
    if isinstance(v, float):
        s = f"{v:g}"
    elif isinstance(v, (dict, list)):
        s = f"<{type(v).__name__} of {len(v)}>"
    else:
        s = str(v)
    s = s.replace("\n", " ")
    if len(s) > _MAX_VALUE:
        s = s[:_MAX_VALUE - 1] + "…"
    if " " in s or not s:
        s = '"' + s.replace('"', "'") + '"'
    return s


def _generic(msg: dict) -> str:
    schema = str(msg.get("schema", "?"))
    name = schema.removeprefix("gridsim.")
    keys = [k for k in _MAIN if k in msg] + [k for k in msg if k not in _HIDDEN and k not in _MAIN]
    fields = " ".join(f"{k}={_short(msg[k])}" for k in keys if msg[k] is not None)
    line = f"{msg.get('created_at', '?')}  {name}  {fields}".rstrip()
    return line if len(line) <= _MAX_LINE else line[:_MAX_LINE - 1] + "…"


def render_message(msg: dict) -> str:
    """One line describing ``msg`` (a registered renderer for its schema, else the generic line)."""
    schema = str(msg.get("schema", ""))
    fn = _RENDERERS.get(schema) or _RENDERERS.get(schema.split("/", 1)[0])
    if fn is not None:
        try:
            line = str(fn(msg))
        except Exception as e:  # a broken renderer must not stop a consumer: fall back, say why
            return f"{_generic(msg)}  [renderer for {schema} failed: {type(e).__name__}: {e}]"
        return line.replace("\n", " ")
    return _generic(msg)
