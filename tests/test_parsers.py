"""The kernel number parsers and bitmap formats exposed by ``numa_hpe._core``, checked against
the independent implementations in ``reference.py`` (interfaces.md §1, §7)."""

from __future__ import annotations

import errno

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import reference as ref
from numa_hpe import _core

# Inputs drawn from the characters the parsers care about (no NUL: sysfs buffers end there).
ALPHABET = b"0123456789abcdefABCDEFxXkKmMgGtTpPeE+-@, \nyYnNoO"
chars = st.binary(min_size=0, max_size=24).map(lambda b: bytes(ALPHABET[x % len(ALPHABET)] for x in b))
numbers = st.one_of(
    st.integers(0, 2**64 - 1).map(lambda n: str(n).encode()),
    st.integers(0, 2**70).map(lambda n: hex(n).encode()),
    st.integers(0, 2**66).map(lambda n: b"0" + format(n, "o").encode()),
    st.integers(0, 2**80).map(lambda n: str(n).encode()),
)
suffix = st.sampled_from([b"", b"\n", b"k", b"M", b"g", b"T", b"p", b"E", b"@0x1000", b"x", b"\n\n", b" "])
inputs = st.one_of(chars, st.builds(lambda a, b, c: a + b + c, st.sampled_from([b"", b"+", b"-"]), numbers, suffix))


def _errno_of(fn, s: bytes):  # type: ignore[no-untyped-def]
    try:
        return ("ok", fn(s))
    except OSError as e:
        return ("err", e.errno)


@given(inputs)
@example(b"0x")
@example(b"0xg")
@example(b"0X1f")
@example(b"010k")
@example(b"")
def test_simple_strtoull(s: bytes) -> None:
    assert _core.simple_strtoull(s) == ref.simple_strtoull(s)


@given(inputs)
@example(b"3G@")
@example(b"abc")
@example(b"0x40000000")
def test_memparse(s: bytes) -> None:
    assert _core.memparse(s) == ref.memparse(s)


@pytest.mark.parametrize(
    ("text", "value", "consumed"),
    [  # interfaces.md §1 examples
        (b"128M", 134217728, 4),
        (b"0x40000000", 1 << 30, 10),
        (b"1g", 1 << 30, 2),
        (b"010k", 8192, 4),
        (b"3G@", 3 << 30, 2),
        (b"abc", 0, 0),
    ],
)
def test_memparse_spec_examples(text: bytes, value: int, consumed: int) -> None:
    assert _core.memparse(text) == (value, consumed)


@given(inputs)
@example(b"+5\n")
@example(b"-5")
@example(b"18446744073709551616")
@example(b"18446744073709551615\n")
@example(b"1\n\n")
@example(b"0x")
def test_kstrtoull(s: bytes) -> None:
    assert _errno_of(_core.kstrtoull, s) == _errno_of(ref.kstrtoull, s)


def test_kstrtoull_errnos() -> None:
    with pytest.raises(OSError) as e:
        _core.kstrtoull(b"99999999999999999999")
    assert e.value.errno == errno.ERANGE
    with pytest.raises(OSError) as e:
        _core.kstrtoull(b"12junk")
    assert e.value.errno == errno.EINVAL
    assert _core.kstrtoull(b"0x10\n") == 16


@given(inputs)
@example(b"1junk")
@example(b"on")
@example(b"oF")
@example(b"o")
@example(b"")
def test_kstrtobool(s: bytes) -> None:
    assert _errno_of(_core.kstrtobool, s) == _errno_of(ref.kstrtobool, s)


@st.composite
def bitmaps(draw: st.DrawFn) -> tuple[list[int], int]:
    nbits = draw(st.one_of(st.integers(1, 80), st.sampled_from([8192, 1024, 64, 32, 33, 4]), st.integers(1, 9000)))
    dense = draw(st.booleans())
    if dense:  # runs
        bits: set[int] = set()
        for a, n in draw(st.lists(st.tuples(st.integers(0, nbits - 1), st.integers(1, 40)), max_size=6)):
            bits.update(range(a, min(a + n, nbits)))
    else:
        bits = set(draw(st.lists(st.integers(0, nbits - 1), max_size=20)))
    return sorted(bits), nbits


@given(bitmaps())
def test_format_cpulist(bm: tuple[list[int], int]) -> None:
    bits, nbits = bm
    assert _core.format_cpulist(bits, nbits) == ref.format_list(set(bits))


@given(bitmaps())
def test_cpulist_round_trip(bm: tuple[list[int], int]) -> None:
    bits, nbits = bm
    assert _core.parse_cpulist(_core.format_cpulist(bits, nbits), nbits) == bits


@given(bitmaps())
def test_format_cpumask(bm: tuple[list[int], int]) -> None:
    bits, nbits = bm
    assert _core.format_cpumask(bits, nbits) == ref.format_mask(set(bits), nbits)


@pytest.mark.parametrize(
    ("bits", "nbits", "mask", "lst"),
    [  # interfaces.md §7 examples
        ([0, 1, 2, 3, 8], 16, "010f", "0-3,8"),
        ([0, 1, 2, 3], 4, "f", "0-3"),
        ([0, 1, 2, 3], 8, "0f", "0-3"),
        (list(range(8)), 8, "ff", "0-7"),
        ([0, 1, 2, 3], 64, "00000000,0000000f", "0-3"),
        ([], 8, "00", ""),
    ],
)
def test_mask_spec_examples(bits: list[int], nbits: int, mask: str, lst: str) -> None:
    assert _core.format_cpumask(bits, nbits) == mask
    assert _core.format_cpulist(bits, nbits) == lst


def test_parse_cpulist_examples() -> None:
    assert _core.parse_cpulist("0-3,8", 16) == [0, 1, 2, 3, 8]
    assert _core.parse_cpulist("", 16) == []
