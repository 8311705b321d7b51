"""Shared fixtures and hypothesis profiles.

``NUMA_HPE_HYPOTHESIS_PROFILE`` selects ``dev`` (default, 50 examples), ``ci`` (300 examples,
no deadline, derandomized so CI runs are reproducible), ``nightly`` (5 000) or ``fuzz`` (20 000);
see docs/reliability.md.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _shared import oracle_dir  # noqa: E402

settings.register_profile("dev", max_examples=50)
settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# heavy profiles, only when selected: the stateful model test's nightly run and the fuzz harness
settings.register_profile("nightly", max_examples=5000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=20000, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("NUMA_HPE_HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(scope="session")
def oracle() -> Path:
    """``shared/oracle``; tests that need it skip when it is not beside the repository."""
    o = oracle_dir()
    if o is None:
        pytest.skip("shared/oracle not found (put shared/ beside the repo or set NUMA_HPE_SHARED)")
    return o
