"""Locate the shared oracle directory (``../shared`` beside the repository, or
``$NUMA_HPE_SHARED``) and import its ``compare.py``."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def shared_dir() -> Path | None:
    env = os.environ.get("NUMA_HPE_SHARED")
    if env:
        if not (Path(env) / "oracle" / "compare.py").is_file():
            raise FileNotFoundError(f"NUMA_HPE_SHARED={env}: no oracle/compare.py there")
        return Path(env)
    default = REPO.parent / "shared"
    return default if (default / "oracle" / "compare.py").is_file() else None


def oracle_dir() -> Path | None:
    s = shared_dir()
    return s / "oracle" if s else None


def case_names() -> list[str]:
    o = oracle_dir()
    if o is None:
        return []
    return sorted(p.name for p in (o / "cases").iterdir() if (p / "case.json").is_file())


_compare: ModuleType | None = None


def compare_module() -> ModuleType:
    """``shared/oracle/compare.py`` imported by path (it is not a package)."""
    global _compare
    if _compare is None:
        o = oracle_dir()
        if o is None:
            raise FileNotFoundError("shared/oracle not found: set NUMA_HPE_SHARED")
        spec = importlib.util.spec_from_file_location("numa_hpe_oracle_compare", o / "compare.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        _compare = mod
    return _compare
