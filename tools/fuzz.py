"""Fuzz every parser and writable file of the emulator (issue 6 §3).

    python tools/fuzz.py -n 100000 [--target memparse ...] [--seed 1] [--json out.json]

Each target gets N random inputs (token-grammar mutations plus raw bytes). Properties checked
for every input:

* no panic: a Rust panic surfaces as ``pyo3_runtime.PanicException`` (a BaseException) and
  is reported as a failure, never swallowed;
* no hang: every call is timed; the slowest input per target is reported and any input over
  ``--max-seconds`` fails;
* every error is an ``OSError`` whose errno is in the set the kernel can return for that file,
  or ``ValueError`` / ``InvalidDescriptionError`` for invalid firmware, command lines and
  snapshots;
* a rejected file write leaves ``snapshot()`` unchanged (``--atomic``, on by default for the
  machine targets);
* the number parsers agree with the pure-Python references of tests/reference.py.

Exit status 0 only when every target passed. The targets are reused by tests/test_fuzz.py.
"""

from __future__ import annotations

import argparse
import errno
import json
import random
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import reference as ref  # noqa: E402

import numa_hpe  # noqa: E402
from numa_hpe import Firmware, _core  # noqa: E402
from numa_hpe.errors import InvalidDescriptionError  # noqa: E402

SYS = "/sys/devices/system"
DBG = "/sys/kernel/debug/mem_hotplug"
E = errno
STORE_ERRNOS = {E.EINVAL, E.EBUSY, E.EEXIST, E.E2BIG, E.ENOMEM, E.EPERM, E.ENODEV, E.EACCES, E.ENOENT,
                E.ERANGE, E.ENOSPC, E.EOPNOTSUPP}

TOKENS = [b"0", b"1", b"7", b"9", b"00", b"0x", b"0X", b"x", b"ff", b"80000000", b"100000000",
          b"18446744073709551615", b"18446744073709551616", b"99999999999999999999999", b"128",
          b"K", b"M", b"G", b"T", b"P", b"E", b"k", b"m", b"g", b"@", b"#", b"$", b"!", b"%",
          b",", b"-", b"+", b":", b"=", b" ", b"\n", b"\t", b"\x00", b"\xff", b"y", b"n", b"on",
          b"off", b"of", b"online", b"offline", b"online_kernel", b"online_movable", b"exactmap",
          b"mem=", b"memmap=", b"numa=", b"possible=", b"fake=", b"off", b"maxcpus=", b"nr_cpus=",
          b"possible_cpus=", b"cpu_hpe=", b"movable_node", b"kernelcore=", b"movablecore=",
          b"memhp_default_state=", b"nosmp", b"sched_verbose", b"physical_address=",
          b"numa_node=", b"hide=", b"U", b"1024m", b"0x80000000", b"0x100000000", b"4096",
          b"memory_hotplug.online_policy=", b"auto-movable", b"\"", b"'", b"\\"]


def gen(rng: random.Random, max_tokens: int = 8) -> bytes:
    """A random input: mostly token concatenations, sometimes raw bytes."""
    r = rng.random()
    if r < 0.1:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 24)))
    out = b"".join(rng.choice(TOKENS) for _ in range(rng.randint(0, max_tokens)))
    if r < 0.3 and out:
        i = rng.randrange(len(out))
        out = out[:i] + bytes([rng.getrandbits(8)]) + out[i + 1:]
    return out


class Failure(Exception):
    pass


def _check_oserror(e: OSError, allowed: set[int], what: str) -> None:
    if e.errno not in allowed:
        raise Failure(f"{what}: errno {e.errno} ({e}) not in the allowed set")


# -- parser targets -------------------------------------------------------------------------
def t_memparse(data: bytes) -> None:
    if _core.memparse(data) != ref.memparse(data):
        raise Failure(f"memparse({data!r}) = {_core.memparse(data)} != {ref.memparse(data)}")
    if _core.simple_strtoull(data) != ref.simple_strtoull(data):
        raise Failure(f"simple_strtoull({data!r}) differs")


def _same_outcome(f: Callable[[bytes], Any], g: Callable[[bytes], Any], data: bytes, name: str) -> None:
    try:
        got: Any = ("ok", f(data))
    except OSError as e:
        _check_oserror(e, {E.EINVAL, E.ERANGE}, name)
        got = ("err", e.errno)
    try:
        want: Any = ("ok", g(data))
    except OSError as e:
        want = ("err", e.errno)
    if got != want:
        raise Failure(f"{name}({data!r}) = {got} != reference {want}")


def t_kstrtoull(data: bytes) -> None:
    _same_outcome(_core.kstrtoull, ref.kstrtoull, data, "kstrtoull")


def t_kstrtobool(data: bytes) -> None:
    _same_outcome(_core.kstrtobool, ref.kstrtobool, data, "kstrtobool")


def t_cpulist(data: bytes) -> None:
    s = data.decode("latin-1")
    for nbits in (8, 64, 8192):
        try:
            bits = _core.parse_cpulist(s, nbits)
        except (OSError, ValueError) as e:
            if isinstance(e, OSError):
                _check_oserror(e, {E.EINVAL, E.ERANGE, E.EOVERFLOW}, "parse_cpulist")
            continue
        if any(not 0 <= b < nbits for b in bits):
            raise Failure(f"parse_cpulist({s!r}, {nbits}) = out-of-range bits")
        text = _core.format_cpulist(bits, nbits)
        if sorted(set(_core.parse_cpulist(text, nbits))) != sorted(set(bits)):
            raise Failure(f"cpulist round trip of {s!r}")


# -- boot targets ---------------------------------------------------------------------------
_FW = Firmware.qemu(cores=2, mem="2G", maxmem="4G", slots=2, node_mem=["1G", "1G"], node_cpus=[[0], [1]]).to_json()


def t_cmdline(data: bytes) -> None:
    text = data.replace(b"\x00", b" ").decode("latin-1")
    try:
        m = numa_hpe.Machine(_FW, cmdline=text)
    except ValueError:
        return  # e.g. `Invalid user supplied memory map` (the kernel panics)
    m.read(f"{SYS}/node/online")


def t_synthetic(data: bytes) -> None:
    text = data.replace(b"\x00", b" ").decode("latin-1")
    try:
        fw = Firmware.synthetic(text, mem_per_node="256M")
    except (InvalidDescriptionError, ValueError):
        return
    if len(fw.cpus) <= 64:
        numa_hpe.Machine(fw)


_CASES: list[dict[str, Any]] = []


def t_oracle_case(data: bytes) -> None:
    """A mutated oracle case firmware: an integer, list or string field replaced."""
    if not _CASES:
        for d in (ROOT.parent / "shared" / "oracle" / "cases", ROOT / ".." / "shared" / "oracle" / "cases"):
            if d.is_dir():
                _CASES.extend(json.loads((c / "case.json").read_text())["firmware"] for c in sorted(d.iterdir())
                              if (c / "case.json").exists())
                break
        if not _CASES:
            _CASES.append(Firmware.qemu().to_dict())
    rng = random.Random(data)
    doc = json.loads(json.dumps(rng.choice(_CASES)))
    for _ in range(rng.randint(1, 3)):
        key = rng.choice(sorted(doc))
        val = doc[key]
        if isinstance(val, list) and val and rng.random() < 0.7:
            i = rng.randrange(len(val))
            if isinstance(val[i], dict) and val[i]:
                k2 = rng.choice(sorted(val[i]))
                val[i][k2] = rng.choice([0, -1, 1 << 64, 1 << 46, 10 ** 7, "x", None, [], True, 255, 256])
            else:
                val[i] = rng.choice([0, -1, 1 << 64, 10 ** 6, None, "x", [10, 20], []])
        else:
            doc[key] = rng.choice([None, 0, -1, 1 << 64, "x", [], {}, [[10]], 10 ** 7])
    try:
        numa_hpe.Machine(json.dumps(doc))
    except (ValueError, InvalidDescriptionError):
        pass


_SAVED: list[bytes] = []


def t_load(data: bytes) -> None:
    """``Machine.load`` of a mutated snapshot: ValueError or a machine that still works."""
    if not _SAVED:
        _SAVED.append(_base("final").save())
    good = _SAVED[0]
    rng = random.Random(data)
    b = bytearray(good)
    r = rng.random()
    if r < 0.5:
        for _ in range(rng.randint(1, 6)):
            b[rng.randrange(len(b))] = rng.getrandbits(8)
    elif r < 0.8:
        i, j = sorted(rng.randrange(len(b)) for _ in range(2))
        b = b[:i] + b[j:] if rng.random() < 0.5 else b[:i] + data + b[i:]
    else:
        b = bytearray(data)
    try:
        m = numa_hpe.Machine.load(bytes(b))
    except ValueError:
        return
    try:  # accepted: every file still reads, every write fails cleanly
        snap = m.snapshot()
        for path in list(snap["files"])[:: max(1, len(snap["files"]) // 20)]:
            m.read(path)
        m.write(f"{SYS}/memory/memory32/state", "online\n")
    except OSError as e:
        _check_oserror(e, STORE_ERRNOS, "loaded machine")


SCRIPT_LINES = [
    "# boot: {w}", "# firmware: qemu cores={n} mem={w}", "# firmware: qemu {w}", "# topology: {w}",
    "# patchset: {w}", "# kernel-config: {w}", "# expect: {w}", "# expect: EINVAL", "# output: {w}",
    "echo {w} > /sys/kernel/debug/mem_hotplug/add_node", "echo {w} > /sys/devices/system/memory/memory{n}/state",
    "echo -n {w} > /sys/devices/system/cpu/probe", "echo {w} >> /sys/devices/system/cpu/release",
    "echo {w} > {w}", "cat {w}", "cat /sys/devices/system/node/online", "ls {w}", "ls", "readlink {w}",
    "dmesg", "dmesg -c", "firmware add_memory {w} {w}", "firmware add_memory 0x100000000 128M pxm={n}",
    "firmware remove_memory {w} {w}", "firmware add_cpu {n} pxm={w}", "firmware remove_cpu {w}",
    "firmware {w}", "{w}", "echo '{w}", 'cat "{w}',
]


def t_script(data: bytes) -> None:
    """A random scenario script (``numa-hpe run``): parsed, booted and run with keep_going;
    only ScriptError / InvalidDescriptionError / ValueError may escape."""
    from numa_hpe.script import Script, ScriptError, run_script

    rng = random.Random(data)
    lines = []
    for _ in range(rng.randint(0, 8)):
        t = rng.choice(SCRIPT_LINES)
        while "{w}" in t or "{n}" in t:
            t = t.replace("{w}", gen(rng, 4).replace(b"\n", b" ").decode("latin-1"), 1)
            t = t.replace("{n}", str(rng.choice([0, 1, 2, 8, 32, 999, -1])), 1)
        lines.append(t)
    text = "\n".join(lines)
    try:
        script = Script.parse(text, "<fuzz>", Path("/nonexistent"))
        run_script(script, _base("final").fork() if rng.random() < 0.5 else None, keep_going=True)
    except (ScriptError, InvalidDescriptionError, ValueError):
        pass


# -- file targets (fresh forks of one booted machine; failed writes must be atomic) -----------
_BASE: dict[str, numa_hpe.Machine] = {}


def _base(kind: str) -> numa_hpe.Machine:
    if kind not in _BASE:
        if kind == "v7":
            _BASE[kind] = numa_hpe.Machine(_FW, cmdline="numa=possible=4 cpu_hpe=on maxcpus=1", patchset_version="v7")
        elif kind == "v3":
            _BASE[kind] = numa_hpe.Machine(_FW, cmdline="numa=possible=4", patchset_version="v3")
        else:
            _BASE[kind] = numa_hpe.Machine(_FW, cmdline="numa=possible=4 cpu_hpe=on maxcpus=1")
            _BASE[kind].write(f"{DBG}/add_node", "128M@0x100000000\n")
    return _BASE[kind]


ATOMIC = True


def _write_target(path: str, kind: str = "final") -> Callable[[bytes], None]:
    def run(data: bytes) -> None:
        m = _base(kind).fork()
        before = m.snapshot() if ATOMIC else None
        try:
            m.write(path, data)
        except OSError as e:
            _check_oserror(e, STORE_ERRNOS, path)
            if before is not None:
                after = m.snapshot()
                if (after["files"], after["links"]) != (before["files"], before["links"]):
                    raise Failure(f"write {data!r} > {path} failed ({e}) but changed the tree") from None
    run.__name__ = "write " + path
    return run


TARGETS: dict[str, Callable[[bytes], None]] = {
    "memparse": t_memparse,
    "kstrtoull": t_kstrtoull,
    "kstrtobool": t_kstrtobool,
    "cpulist": t_cpulist,
    "cmdline": t_cmdline,
    "synthetic": t_synthetic,
    "oracle_case": t_oracle_case,
    "load": t_load,
    "script": t_script,
    "add_node": _write_target(f"{DBG}/add_node"),
    "node_add_memory": _write_target(f"{DBG}/node0/add_memory"),
    "global_add_memory_v7": _write_target(f"{DBG}/add_memory", "v7"),
    "memory_probe": _write_target(f"{SYS}/memory/probe"),
    "node_probe_v3": _write_target(f"{SYS}/node/probe", "v3"),
    "state": _write_target(f"{SYS}/memory/memory32/state"),
    "online": _write_target(f"{SYS}/memory/memory32/online"),
    "auto_online_blocks": _write_target(f"{SYS}/memory/auto_online_blocks"),
    "cpu_probe": _write_target(f"{SYS}/cpu/probe"),
    "cpu_release": _write_target(f"{SYS}/cpu/release"),
    "cpu_online": _write_target(f"{SYS}/cpu/cpu1/online"),
}


def run_target(name: str, n: int, seed: int, max_seconds: float) -> dict[str, Any]:
    fn = TARGETS[name]
    rng = random.Random(f"{seed}:{name}")
    worst, worst_input, failures = 0.0, b"", []
    t0 = time.perf_counter()
    for _ in range(n):
        data = gen(rng)
        t = time.perf_counter()
        try:
            fn(data)
        except Failure as e:
            failures.append(str(e))
        except BaseException as e:  # noqa: BLE001 -- PanicException is a BaseException
            if isinstance(e, KeyboardInterrupt):
                raise
            failures.append(f"{type(e).__module__}.{type(e).__name__} on {data!r}: {e}")
        dt = time.perf_counter() - t
        if dt > worst:
            worst, worst_input = dt, data
        if dt > max_seconds:
            failures.append(f"slow input {data!r}: {dt:.2f}s")
        if len(failures) >= 20:
            break
    total = time.perf_counter() - t0
    return {"target": name, "inputs": n, "seconds": round(total, 2), "rate": round(n / total),
            "slowest_ms": round(worst * 1e3, 2), "slowest_input": repr(worst_input[:60]),
            "failures": failures}


def main(argv: list[str] | None = None) -> int:
    global ATOMIC
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=10000, help="inputs per target")
    ap.add_argument("--target", action="append", choices=sorted(TARGETS), help="default: all")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=2.0)
    ap.add_argument("--no-atomic", action="store_true", help="skip the snapshot comparison")
    ap.add_argument("--json", help="write the results here")
    args = ap.parse_args(argv)
    ATOMIC = not args.no_atomic
    results, ok = [], True
    for name in args.target or list(TARGETS):
        r = run_target(name, args.n, args.seed, args.max_seconds)
        results.append(r)
        ok &= not r["failures"]
        status = "ok" if not r["failures"] else f"{len(r['failures'])} FAILURES"
        print(f"{name:22} {r['inputs']:>9} inputs {r['seconds']:>8}s {r['rate']:>8}/s "
              f"slowest {r['slowest_ms']}ms  {status}", flush=True)
        for f in r["failures"][:5]:
            print("    " + f[:300], flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
