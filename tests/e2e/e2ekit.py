"""Helpers of the browser tests (a module of its own: two conftest.py files cannot both be imported as
``conftest`` when tests/e2e and tests/reliability run in one session)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path


def copy_to_docs(src: Path, name: str) -> None:
    """Keep a screenshot for docs/img when GRIDSIM_DOC_SCREENSHOTS=1 (the docs' pictures come from the tests)."""
    if os.environ.get("GRIDSIM_DOC_SCREENSHOTS") == "1":
        dst = Path(__file__).resolve().parents[2] / "docs" / "img" / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
