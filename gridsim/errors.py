"""The one exception hierarchy of gridsim.

Every error a user can cause derives from :class:`GridsimError`. The CLI turns
these into a one-line message and exit code 2; anything else is a bug.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class GridsimError(Exception):
    """Base class of every error gridsim raises on purpose."""


class ModelLoadError(GridsimError):
    """A model could not be loaded: unknown name, missing or malformed file."""


class InputFileError(GridsimError):
    """A JSON / CSV / YAML file is malformed. The message names the file."""


class UnknownElementError(GridsimError):
    """An element reference (e.g. ``line:17``) does not exist in the model."""


class StateError(GridsimError):
    """A network state (switch states, faults) does not fit the topology."""


@dataclass(frozen=True)
class ValidationIssue:
    """One finding of :func:`gridsim.validate_model`.

    ``element`` is the table (``bus``, ``line``, ``customers``, ...), ``field``
    the column, ``ids`` the element ids (pandapower indices or customer ids,
    never row positions) and ``message`` says what is wrong and how to fix it.
    ``code`` names the check, ``severity`` is ``error`` or ``warning``.
    """

    element: str
    field: str
    ids: tuple = field(default_factory=tuple)
    message: str = ""
    code: str = ""
    #: ``error`` (refused by ``assert_valid``) or ``warning`` (reported only).
    severity: str = "error"

    def __str__(self) -> str:
        shown = ", ".join(str(i) for i in self.ids[:10])
        more = f" (+{len(self.ids) - 10} more)" if len(self.ids) > 10 else ""
        where = f"{self.element}.{self.field}" if self.field else self.element
        ids = f" [{shown}{more}]" if self.ids else ""
        return f"{where}{ids}: {self.message}"


class ModelValidationError(GridsimError):
    """Raised by :func:`gridsim.assert_valid`; carries every issue found."""

    def __init__(self, issues: list[ValidationIssue]):
        self.issues = list(issues)
        lines = "; ".join(str(i) for i in self.issues)
        super().__init__(f"{len(self.issues)} validation error(s): {lines}")


class QueueError(GridsimError):
    """A queue URL, queue name or message is wrong (the message names the queue and the field)."""


class QueueUnavailable(QueueError):
    """The queue backend cannot be reached (the message names the URL); nothing was lost, retry later."""


class NetworkStructureError(ModelValidationError, InputFileError):
    """A network gridsim cannot read at all: a table or column it needs is missing, values are of the
    wrong kind (text for a bus id, NaN for a length), ids are not unique integers. Refused before
    anything reads the net; ``source`` (the file or model) leads the message, ``issues`` lists the problems."""

    def __init__(self, issues: list[ValidationIssue], source: str = ""):
        super().__init__(issues)
        self.source = source
        if source:
            self.args = (f"{source}: {self.args[0]}",)


class InputTooLargeError(InputFileError):
    """An input (file, event, batch) is over its configured size limit; the message names the limit's
    environment variable."""


def brief(value, limit: int = 60) -> str:
    """``repr(value)`` for an error message: at most ``limit`` characters, cheap even for huge or deeply
    nested values (a YAML alias bomb, a 100,000-character string)."""
    import reprlib

    r = reprlib.Repr()
    r.maxlevel, r.maxlist, r.maxtuple, r.maxdict, r.maxset = 2, 4, 4, 4, 4
    r.maxstring = r.maxother = r.maxlong = limit
    text = r.repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


class SettingError(GridsimError):
    """An environment setting (``GRIDSIM_*``) holds a value gridsim cannot use; the message names the variable."""


def printable(text, limit: int = 60) -> str:
    """``text`` for an error message: non-printable characters (newlines, carriage returns, tabs,
    direction overrides) backslash-escaped, at most ``limit`` characters."""
    text = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))
    return text if len(text) <= limit else text[: limit - 3] + "..."
