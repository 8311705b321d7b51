"""Reliability (issue 6 §4-§7): atomicity of every failing operation the suites know, limits
(absurd requests refused without large allocations; the supported maxima boot), concurrency
(threads sharing one machine), and snapshot validation against untrusted bytes."""

from __future__ import annotations

import errno
import random
import resource
import threading
from typing import Any, Callable

import invariants as inv
import pytest

import numa_hpe
from numa_hpe import Firmware
from numa_hpe.errors import InvalidDescriptionError

SYS = "/sys/devices/system"
DBG = "/sys/kernel/debug/mem_hotplug"
E = errno
G = 1 << 30


def _numa2(cmdline: str = "numa=possible=4 cpu_hpe=on maxcpus=1") -> numa_hpe.Machine:
    fw = Firmware.qemu(cores=2, mem="2G", maxmem="8G", slots=4, node_mem=["1G", "1G"], node_cpus=[[0], [1]])
    return numa_hpe.Machine(fw, cmdline=cmdline)


def _with_node() -> numa_hpe.Machine:
    m = _numa2()
    m.write(f"{DBG}/add_node", "128M@0x100000000\n")  # node 2, memory32 offline
    return m


def _online32() -> numa_hpe.Machine:
    m = _with_node()
    m.echo("online", f"{SYS}/memory/memory32/state")
    return m


def _uma() -> numa_hpe.Machine:
    return numa_hpe.Machine(cmdline="mem=2G numa=possible=4 maxcpus=2 cpu_hpe=on")


def _full_nodes() -> numa_hpe.Machine:
    m = _numa2("cpu_hpe=on")  # no spare possible node
    return m


def _veto(m: numa_hpe.Machine) -> numa_hpe.Machine:
    m.subscribe(lambda ev: E.EBUSY if ev["event"].endswith("GOING_ONLINE") or ev["event"].endswith("GOING_OFFLINE") else 0)
    return m


def _w(path: str, data: str) -> Callable[[numa_hpe.Machine], Any]:
    def op(m: numa_hpe.Machine) -> Any:
        return m.write(path, data)
    op.__name__ = f"write {data!r} > {path}"
    return op


#: (setup, operation, expected errno) -- every failing operation the suites know
FAILING: list[tuple[Callable[[], numa_hpe.Machine], Callable[[numa_hpe.Machine], Any], int]] = [
    (_numa2, _w(f"{DBG}/add_node", "64M@0x100000000\n"), E.EINVAL),          # below a section
    (_numa2, _w(f"{DBG}/add_node", "128M\n"), E.EINVAL),                      # no @
    (_numa2, _w(f"{DBG}/add_node", "128M@0x100001000\n"), E.EINVAL),         # unaligned
    (_numa2, _w(f"{DBG}/add_node", "128M@0x40000000\n"), E.EEXIST),          # boot RAM
    (_numa2, _w(f"{DBG}/add_node", "128M@0x400000000000\n"), E.E2BIG),       # beyond 46 bits
    (_numa2, _w(f"{DBG}/add_node", "16E@0\n"), E.EINVAL),                    # memparse wraps to 0
    (_full_nodes, _w(f"{DBG}/add_node", "128M@0x100000000\n"), E.ENOMEM),    # no free nid
    (_with_node, _w(f"{DBG}/add_node", "128M@0x100000000\n"), E.EEXIST),
    (_with_node, _w(f"{SYS}/memory/probe", "0x100000000\n"), E.EEXIST),
    (_numa2, _w(f"{SYS}/memory/probe", "0x100001000\n"), E.EINVAL),
    (_numa2, _w(f"{SYS}/memory/probe", "junk\n"), E.EINVAL),
    (_numa2, _w(f"{SYS}/memory/probe", "99999999999999999999999\n"), E.ERANGE),
    (_with_node, _w(f"{SYS}/memory/memory32/state", "offline\n"), E.EINVAL),   # already offline
    (_with_node, _w(f"{SYS}/memory/memory32/state", "bogus\n"), E.EINVAL),
    (_online32, _w(f"{SYS}/memory/memory32/state", "online\n"), E.EINVAL),
    (_with_node, _w(f"{SYS}/memory/memory32/online", "x\n"), E.EINVAL),
    (_numa2, _w(f"{SYS}/memory/memory0/state", "offline\n"), E.EINVAL),       # DMA + DMA32
    (lambda: _veto(_with_node()), _w(f"{SYS}/memory/memory32/state", "online\n"), E.EBUSY),
    (lambda: _veto(_online32()), _w(f"{SYS}/memory/memory32/state", "offline\n"), E.EBUSY),
    (_numa2, _w(f"{SYS}/memory/auto_online_blocks", "sometimes\n"), E.EINVAL),
    (_numa2, _w(f"{SYS}/node/online", "0-1\n"), E.EACCES),
    (_numa2, _w(f"{SYS}/node/node0/bogus", "1\n"), E.EACCES),
    (_numa2, _w(f"{SYS}/memory/memory999/state", "online\n"), E.ENOENT),
    (_uma, _w(f"{SYS}/cpu/probe", "3"), E.EPERM),                             # fewer than 2 bytes
    (_uma, _w(f"{SYS}/cpu/probe", "9\n"), E.EPERM),                           # nid >= nr_node_ids
    (_uma, _w(f"{SYS}/cpu/probe", "1\n"), E.EPERM),                           # node offline
    (_uma, _w(f"{SYS}/cpu/release", "0\n"), E.EPERM),
    (_uma, _w(f"{SYS}/cpu/cpu1/online", "x\n"), E.EINVAL),
    (_online32, lambda m: m.remove_memory_range(1 << 32, 128 << 20), E.EBUSY),
    (_numa2, lambda m: m.remove_memory(0, 128 << 20), E.EBUSY),
    (_online32, lambda m: m.remove_memory((1 << 32) + (64 << 20), 128 << 20), E.EINVAL),  # misaligned eject
    (_numa2, lambda m: m.add_memory(0x40000000, 128 << 20), E.EEXIST),
    (_numa2, lambda m: m.add_memory(1 << 46, 128 << 20), E.E2BIG),
    (_numa2, lambda m: m.add_memory((1 << 32) + 4096, 128 << 20), E.EINVAL),
    (_numa2, lambda m: m.online_blocks([0, 999]), E.EINVAL),
    (_numa2, lambda m: m.offline_blocks([0]), E.EINVAL),
    (_uma, lambda m: m.remove_cpu(0), E.EBUSY),
]


@pytest.mark.parametrize("setup,op,want", FAILING, ids=[f"{i}-{getattr(o, '__name__', 'op')}" for i, (_, o, _) in enumerate(FAILING)])
def test_failing_operation_is_atomic(setup: Callable[[], numa_hpe.Machine], op: Callable[[numa_hpe.Machine], Any], want: int) -> None:
    m = setup()
    before = m.snapshot()
    with pytest.raises(OSError) as e:
        op(m)
    after = m.snapshot()
    assert (after["files"], after["links"]) == (before["files"], before["links"])
    assert e.value.errno == want, f"errno {e.value}"
    inv.check(m)


def test_misaligned_eject_keeps_blocks_online() -> None:
    """Regression: ``remove_memory`` with a range not aligned to the block size offlined the
    blocks it overlapped and only then failed with EINVAL, leaving them offline."""
    m = _online32()
    with pytest.raises(OSError) as e:
        m.remove_memory((1 << 32) + (64 << 20), 128 << 20)
    assert e.value.errno == E.EINVAL
    assert m.read(f"{SYS}/memory/memory32/state") == "online\n"


# -- limits -------------------------------------------------------------------------------------
def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


ABSURD: list[tuple[str, Callable[[], Any], tuple[type[BaseException], ...]]] = [
    ("mem=16E", lambda: numa_hpe.Machine(cmdline="mem=16E").read(f"{SYS}/node/online"), ()),
    ("numa=possible=1000000", lambda: numa_hpe.Machine(cmdline="numa=possible=1000000"), ()),
    ("nr_cpus=10000000", lambda: numa_hpe.Machine(cmdline="nr_cpus=10000000 possible_cpus=10000000"), ()),
    ("10^7 CPUs", lambda: Firmware.synthetic("package:10000 core:1000 pu:1"), (InvalidDescriptionError,)),
    ("10^7 CPUs qemu", lambda: Firmware.qemu(sockets=10000, cores=1000), (InvalidDescriptionError,)),
    ("10^7 CPUs json", lambda: numa_hpe.Machine({**Firmware.qemu().to_dict(), "nr_cpus_possible": 10 ** 7}), (ValueError,)),
    ("10^6 nodes", lambda: Firmware.synthetic("node:1000000 core:1"), (InvalidDescriptionError,)),
    ("2^64 add_node", lambda: _numa2().write(f"{DBG}/add_node", "18446744073709551615@0x100000000\n"), (OSError,)),
    ("16E add_memory", lambda: _numa2().add_memory(1 << 32, (1 << 64) - (1 << 32)), (OSError,)),
    ("100 MB write", lambda: _numa2().write(f"{DBG}/add_node", b"1" * (100 << 20)), (OSError,)),
    ("100 MB state", lambda: _numa2().write(f"{SYS}/memory/memory0/state", b"o" * (100 << 20)), (OSError,)),
]


@pytest.mark.parametrize("name,call,errors", ABSURD, ids=[a[0] for a in ABSURD])
def test_absurd_request_refused_small(name: str, call: Callable[[], Any], errors: tuple[type[BaseException], ...]) -> None:
    base = _maxrss_mb()
    try:
        call()
    except errors as e:
        assert str(e), "the error says why"
    # the 100 MB payload itself is 100 MB of Python bytes; anything else must stay tiny
    budget = 250 if "100 MB" in name else 64
    assert _maxrss_mb() - base < budget, f"{name}: peak RSS grew {_maxrss_mb() - base:.0f} MB"


def test_long_add_node_write_is_truncated() -> None:
    """The patchset copies at most 63 bytes of an add_node write (v5-v9): a 1 MB write is
    parsed from its head, like the kernel, without keeping the rest."""
    m = _numa2()
    assert m.write(f"{DBG}/add_node", b"128M@0x100000000\n" + b"x" * (1 << 20)) == (1 << 20) + 17
    assert "2" in inv.cpulist(m.read(f"{SYS}/node/online")).__repr__()


def test_qemu_refuses_absurd_slot_counts() -> None:
    """Regression: ``Firmware.qemu(sockets=10000, cores=1000)`` built 10^7 CPU dicts (5 GB)."""
    with pytest.raises(InvalidDescriptionError, match="32768"):
        Firmware.qemu(sockets=10000, cores=1000)


def test_supported_maxima_boot() -> None:
    """1024 nodes and 8192 CPUs boot (docs/reliability.md); a 46-bit address is the last that
    hot-adds."""
    fw = Firmware.synthetic("node:1024 package:1 core:8 pu:1", mem_per_node="128M")
    m = numa_hpe.Machine(fw, cmdline="maxcpus=4")
    assert inv.cpulist(m.read(f"{SYS}/node/online")) == set(range(1024))
    assert inv.cpulist(m.read(f"{SYS}/cpu/possible")) == set(range(8192))
    top = (1 << 46) - (128 << 20)
    m2 = _numa2()
    m2.hot_add_memory(top, 128 << 20, 0)
    with pytest.raises(OSError) as e:
        m2.hot_add_memory(1 << 46, 128 << 20, 0)
    assert e.value.errno == E.E2BIG


# -- concurrency --------------------------------------------------------------------------------
def test_threads_share_one_machine() -> None:
    m = _numa2("numa=possible=4 cpu_hpe=on")
    for k in range(4):
        m.hot_add_memory((4 + k) * G, 128 << 20, k % 2)
    ids = sorted(b.block for b in m.memory_blocks() if b.start >= 4 * G)
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(300):
                b = rng.choice(ids)
                try:
                    m.write(f"{SYS}/memory/memory{b}/state", rng.choice(["online", "offline", "online_movable"]))
                except OSError as e:
                    assert e.errno in (E.EINVAL, E.EBUSY)
                try:
                    m.write(f"{SYS}/cpu/cpu1/online", rng.choice("01"))
                except OSError as e:
                    assert e.errno in (E.EINVAL, E.EBUSY)
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    def reader() -> None:
        try:
            while not stop.is_set():
                m.snapshot()
                m.read("/proc/zoneinfo")
                m.listdir(f"{SYS}/memory")
                m.dmesg()
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    ws = [threading.Thread(target=writer, args=(i,)) for i in range(3)]
    rs = [threading.Thread(target=reader) for _ in range(2)]
    for t in ws + rs:
        t.start()
    for t in ws:
        t.join(60)
    stop.set()
    for t in rs:
        t.join(60)
    assert not any(t.is_alive() for t in ws + rs), "deadlock"
    assert not errors, errors
    inv.check(m)


def test_threads_with_notifier_do_not_deadlock() -> None:
    """Regression: with a Python notifier subscribed, a thread holding the machine lock runs the
    callback and needs the GIL, while another thread waited for the lock *holding* the GIL
    (``stat``/``listdir``/``dmesg`` did not release it): a deadlock within milliseconds."""
    m = _numa2("numa=possible=4")
    m.hot_add_memory(4 * G, 128 << 20, 0)
    seen: list[str] = []
    m.subscribe(lambda ev: seen.append(ev["event"]) and 0)
    done: list[bool] = []

    def writer() -> None:
        for i in range(2000):
            m.write(f"{SYS}/memory/memory32/state", "online_movable" if i % 2 == 0 else "offline")
        done.append(True)

    def reader() -> None:
        for _ in range(20000):
            m.stat(f"{SYS}/memory/memory32")
            m.listdir(f"{SYS}/memory")
        done.append(True)

    ts = [threading.Thread(target=writer, daemon=True), threading.Thread(target=reader, daemon=True)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert len(done) == 2, "threads deadlocked (a GIL holder waited for the machine lock)"
    assert len(seen) == 2000 * 2
    inv.check(m)


# -- safety: snapshots from untrusted bytes -------------------------------------------------------
def test_load_random_and_mutated_bytes() -> None:
    good = _online32().save()
    assert numa_hpe.Machine.load(good).snapshot()["files"]
    rng = random.Random(6)
    cases = [b"", b"\x00", b"{}", b"null", good[:10], good[: len(good) // 2], good + b"x",
             bytes(rng.getrandbits(8) for _ in range(200))]
    for _ in range(300):
        b = bytearray(good)
        for _ in range(rng.randint(1, 8)):
            i = rng.randrange(len(b))
            b[i] = rng.getrandbits(8)
        cases.append(bytes(b))
    for _ in range(100):
        i, j = sorted(rng.randrange(len(good)) for _ in range(2))
        cases.append(good[:i] + good[j:])
    for data in cases:
        try:
            m = numa_hpe.Machine.load(data)
        except ValueError:
            continue
        except BaseException as e:  # noqa: BLE001
            pytest.fail(f"load raised {type(e).__module__}.{type(e).__name__}: {e}")
        # accepted: it must be a working, consistent machine
        try:
            inv.check(m)
            m.echo("offline", f"{SYS}/memory/memory32/state")
        except OSError:
            pass
        except AssertionError as e:
            pytest.fail(f"load accepted an inconsistent machine: {e}")
        except BaseException as e:  # noqa: BLE001
            pytest.fail(f"loaded machine raised {type(e).__module__}.{type(e).__name__}: {e}")


@pytest.mark.parametrize("line", ["firmware remove_cpu 0x1000000000000", "firmware add_cpu 1 pxm=-1",
                                  "firmware add_memory 0x100000000 128M pxm=99999999999",
                                  "firmware add_memory 0x10000000000000000 128M"])
def test_script_out_of_range_firmware_numbers_are_script_errors(line: str) -> None:
    """Regression (fuzz target ``script``): out-of-range numbers escaped as OverflowError."""
    from numa_hpe.script import Script, ScriptError, run_script

    with pytest.raises(ScriptError, match="fit"):
        run_script(Script.parse(line), _numa2())


def test_overlapping_srat_falls_back_to_dummy_numa() -> None:
    """Regression (fuzz target ``oracle_case``): SRAT memory ranges of two nodes overlapping
    reached the memory-block setup unsorted and panicked (index out of bounds). The kernel's
    ``numa_cleanup_meminfo`` fails with ``node A [mem ...] overlaps with node B [mem ...]`` and
    x86 falls back to the dummy (one node) init."""
    d = Firmware.qemu(cores=2, mem="2G", node_mem=["1G", "1G"], node_cpus=[[0], [1]]).to_dict()
    d["memory_affinity"][-1]["start"] = 255
    m = numa_hpe.Machine(d)
    assert any("overlaps with node" in line for line in m.dmesg())
    assert "No NUMA configuration found" in m.dmesg()
    assert m.read(f"{SYS}/node/online") == "0\n"
    inv.check(m)
