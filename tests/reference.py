"""Slow, obviously-correct Python versions of kernel routines, written from
``shared/spec/interfaces.md`` (§1 number parsers, §7 mask/list formats). Tests compare
``numa_hpe._core`` against these; never derive them from the emulator's output."""

from __future__ import annotations

import errno

U64 = (1 << 64) - 1
HEX = b"0123456789abcdefABCDEF"
SHIFT = {c: s for s, cs in ((10, b"Kk"), (20, b"Mm"), (30, b"Gg"), (40, b"Tt"), (50, b"Pp"), (60, b"Ee"))
         for c in cs}


def _at(s: bytes, i: int) -> int:
    return s[i] if i < len(s) else 0


def fixup_radix(s: bytes, i: int = 0) -> tuple[int, int]:
    """lib/kstrtox.c ``_parse_integer_fixup_radix`` with base 0 -> (base, index after prefix)."""
    if _at(s, i) == ord("0"):
        if _at(s, i + 1) in b"xX" and _at(s, i + 2) != 0 and _at(s, i + 2) in HEX:
            return 16, i + 2
        return 8, i
    return 10, i


def _digit(c: int, base: int) -> int | None:
    ch = chr(c).lower()
    v = "0123456789abcdef".find(ch) if ch else -1
    return v if 0 <= v < base else None


def parse_integer(s: bytes, i: int, base: int) -> tuple[int, int, bool]:
    """``_parse_integer``: (value mod 2^64, index after the digits, overflowed)."""
    value, overflow = 0, False
    while i < len(s):
        d = _digit(s[i], base)
        if d is None:
            break
        value = value * base + d
        if value > U64:
            overflow = True
            value &= U64
        i += 1
    return value, i, overflow


def simple_strtoull(s: bytes) -> tuple[int, int]:
    """(value, bytes consumed); no digits -> (0, 0)."""
    base, i = fixup_radix(s)
    value, end, _ = parse_integer(s, i, base)
    if end == i:
        return 0, 0
    return value, end


def memparse(s: bytes) -> tuple[int, int]:
    value, end = simple_strtoull(s)
    if end < len(s) and s[end] in SHIFT:
        value = (value << SHIFT[s[end]]) & U64
        end += 1
    return value, end


def kstrtoull(s: bytes) -> int:
    """Value, or raises OSError(EINVAL | ERANGE)."""
    i = 1 if s[:1] == b"+" else 0
    base, i = fixup_radix(s, i)
    value, end, overflow = parse_integer(s, i, base)
    if overflow:
        raise OSError(errno.ERANGE, "overflow")
    if end == i:
        raise OSError(errno.EINVAL, "no digits")
    if s[end:end + 1] == b"\n":
        end += 1
    if end != len(s):
        raise OSError(errno.EINVAL, "trailing characters")
    return value


def kstrtobool(s: bytes) -> bool:
    c0, c1 = _at(s, 0), _at(s, 1)
    if c0 and c0 in b"yY1":
        return True
    if c0 and c0 in b"nN0":
        return False
    if c0 and c0 in b"oO":
        if c1 and c1 in b"nN":
            return True
        if c1 and c1 in b"fF":
            return False
    raise OSError(errno.EINVAL, "not a boolean")


def format_list(bits: set[int]) -> str:
    """``%*pbl``: ascending runs, ``a`` or ``a-b``, joined by ``,``."""
    out, run = [], None
    for b in sorted(bits):
        if run and b == run[1] + 1:
            run[1] = b
        else:
            if run:
                out.append(run)
            run = [b, b]
    if run:
        out.append(run)
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in out)


def format_mask(bits: set[int], nbits: int) -> str:
    """``%*pb``: 32-bit chunks from the most significant; the leading chunk has ``nbits % 32``
    bits (32 when 0) in ceil(bits/4) digits, the others 8 digits; lowercase, joined by ``,``."""
    value = sum(1 << b for b in bits)
    chunks = []
    lead = nbits % 32 or 32
    top = nbits - lead
    chunks.append(format((value >> top) & ((1 << lead) - 1), f"0{(lead + 3) // 4}x"))
    for lo in range(top - 32, -1, -32):
        chunks.append(format((value >> lo) & 0xFFFFFFFF, "08x"))
    return ",".join(chunks)
