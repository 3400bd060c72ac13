"""The compare tests use the CT generator one folder up (tests/core/ctgen.py)."""

from __future__ import annotations

import sys
from pathlib import Path

_CORE_TESTS = str(Path(__file__).resolve().parents[1])
if _CORE_TESTS not in sys.path:
    sys.path.insert(0, _CORE_TESTS)
