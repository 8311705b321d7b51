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


# -- e820 (algorithms.md §1.2) --------------------------------------------------------------
E820_NOMERGE = {12, 0xEFFFFFFF}
E820_NAMES = {1: "usable", 2: "reserved", 3: "ACPI data", 4: "ACPI NVS", 5: "unusable",
              7: "persistent (type 7)", 12: "persistent (type 12)", 0xEFFFFFFF: "soft reserved",
              128: "usable"}


def e820_type_name(t: int) -> str:
    return E820_NAMES.get(t, f"type {t}")


def e820_sanitize(entries: list[tuple[int, int, int]]) -> list[tuple[int, int, int]] | None:
    """``e820__update_table``: None when it fails (fewer than 2 entries or a wrapping entry)."""
    if len(entries) < 2:
        return None
    if any(((a + s) & U64) < a for a, s, _ in entries):
        return None
    points = []  # (addr, 0 = start / 1 = end, entry index)
    for i, (a, s, _t) in enumerate(entries):
        if s:
            points.append((a, 0, i))
            points.append((a + s, 1, i))
    points.sort(key=lambda p: (p[0], p[1]))
    overlap: list[int] = []
    out: list[tuple[int, int, int]] = []
    last_type, last_addr = 0, 0
    for addr, kind, i in points:
        if kind == 0:
            overlap.append(i)
        else:
            overlap.remove(i)
        current = max((entries[j][2] for j in overlap), default=0)
        if current != last_type or current in E820_NOMERGE:
            if last_type and addr - last_addr:
                out.append((last_addr, addr - last_addr, last_type))
            if current:
                last_addr = addr
            last_type = current
    return out


# -- zonelists (algorithms.md §6, the literal loop) -------------------------------------------
def build_zonelists_pass(locals_: list[int], memory: set[int], with_cpus: set[int],
                         dist: "callable", max_numnodes: int = 1024) -> dict[int, list[int]]:
    """One ``__build_all_zonelists`` pass: node_load reset once, then ``build_zonelists`` for
    each node of ``locals_`` in order; returns the fallback node order per local node."""
    node_load: dict[int, int] = {}
    out = {}
    for local in locals_:
        used: set[int] = set()
        prev, order = local, []

        def find_next_best_node() -> int:
            if local not in used:
                used.add(local)
                return local
            best, min_val = -1, None
            for n in sorted(memory):
                if n in used:
                    continue
                val = dist(local, n) + (1 if n < local else 0) + (1 if n in with_cpus else 0)
                val = val * max_numnodes + node_load.get(n, 0)
                if min_val is None or val < min_val:
                    min_val, best = val, n
            if best >= 0:
                used.add(best)
            return best

        while (n := find_next_best_node()) >= 0:
            if dist(local, n) != dist(local, prev):
                node_load[n] = node_load.get(n, 0) + 1
            order.append(n)
            prev = n
        out[local] = order
    return out


# -- zone for onlining (algorithms.md §3.4) ---------------------------------------------------
ZONE_NAMES = ["DMA", "DMA32", "Normal", "Movable", "Device"]


def zone_intersects(span: tuple[int, int] | None, pfn: int, n: int) -> bool:
    """``span`` = (zone_start_pfn, spanned) or None/zero for an empty zone."""
    if not span or span[1] == 0:
        return False
    start, spanned = span
    return not (pfn >= start + spanned or pfn + n <= start)


def default_kernel_zone(spans: dict[str, tuple[int, int]], pfn: int, n: int) -> str:
    for z in ("DMA", "DMA32", "Normal"):
        if zone_intersects(spans.get(z), pfn, n):
            return z
    return "Normal"


def default_zone(spans: dict[str, tuple[int, int]], pfn: int, n: int, movable_node: bool) -> str:
    k = default_kernel_zone(spans, pfn, n)
    in_k = zone_intersects(spans.get(k), pfn, n)
    in_m = zone_intersects(spans.get("Movable"), pfn, n)
    if in_k != in_m:
        return k if in_k else "Movable"
    return "Movable" if movable_node else k


def zone_for(online_type: str, spans: dict[str, tuple[int, int]], pfn: int, n: int,
             movable_node: bool) -> str:
    if online_type == "online_kernel":
        return default_kernel_zone(spans, pfn, n)
    if online_type == "online_movable":
        return "Movable"
    return default_zone(spans, pfn, n, movable_node)


def valid_zones_offline(spans: dict[str, tuple[int, int]], pfn: int, n: int, movable_node: bool) -> str:
    d = default_zone(spans, pfn, n, movable_node)
    out = [d]
    for t in ("online_kernel", "online_movable"):
        z = zone_for(t, spans, pfn, n, movable_node)
        if z != d:
            out.append(z)
    return " ".join(out)
