"""Hypothesis fuzz harness over the targets of tools/fuzz.py (issue 6 §3): every parser and
writable file gets random bytes; no panic, no hang, only allowed errnos, failed writes atomic.

Example counts: dev 50, ci 300, ``NUMA_HPE_HYPOTHESIS_PROFILE=fuzz`` 20 000 per target."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import fuzz  # noqa: E402

token_bytes = st.lists(st.sampled_from(fuzz.TOKENS), max_size=8).map(b"".join)
inputs = st.one_of(token_bytes, st.binary(max_size=32),
                   st.tuples(token_bytes, st.binary(max_size=2), token_bytes).map(b"".join))


@pytest.mark.parametrize("target", sorted(fuzz.TARGETS))
@given(data=inputs)
def test_fuzz_target(target: str, data: bytes) -> None:
    t = time.perf_counter()
    try:
        fuzz.TARGETS[target](data)
    except fuzz.Failure as e:
        pytest.fail(str(e))
    assert time.perf_counter() - t < 5.0, f"{target} took too long on {data!r}"


def test_fuzz_tool_smoke() -> None:
    assert fuzz.main(["-n", "30", "--seed", "7"]) == 0
