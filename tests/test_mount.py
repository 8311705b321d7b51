"""``numa-hpe mount``: a FUSE mount whose reads and writes reach the emulator, driven by a real
shell. Each test mounts in a tmp dir (server in a child process, waited for with a bounded poll
on ``os.path.ismount``) and unmounts at the end."""

from __future__ import annotations

import errno
import os
import random
import shutil
import stat
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import numa_hpe
from numa_hpe import Firmware

DEMO_CMDLINE = "mem=2G numa=possible=4 maxcpus=2 cpu_hpe=on"


def _fuse_unusable() -> str | None:
    """Why FUSE cannot be used here, or None."""
    try:
        import mfusepy  # noqa: F401
    except (ImportError, OSError) as e:  # OSError: libfuse not found by ctypes
        return f"mfusepy / libfuse not available: {e}"
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse does not exist"
    try:
        os.close(os.open("/dev/fuse", os.O_RDWR))
    except OSError as e:
        return f"/dev/fuse cannot be opened: {e.strerror}"
    if os.geteuid() != 0 and shutil.which("fusermount3") is None and shutil.which("fusermount") is None:
        return "not root and no fusermount helper"
    return None


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[tuple[numa_hpe.Machine, Path]]:
    reason = _fuse_unusable()
    if reason:
        pytest.skip(f"FUSE not usable: {reason}")
    from numa_hpe.mount import spawn, stop

    m = numa_hpe.boot(cmdline=DEMO_CMDLINE)
    mnt = tmp_path / "sys"
    mnt.mkdir()
    try:
        proc = spawn(m, mnt, timeout=30)
    except RuntimeError as e:  # the server could not mount (no privilege in this container, ...)
        pytest.skip(f"FUSE not usable: {e}")
    try:
        yield m, mnt
        assert proc.poll() is None, "the FUSE server died"
    finally:
        stop(mnt, proc)


def _sh(script: str) -> subprocess.CompletedProcess[str]:
    # bash reports the write's errno (`write error: Invalid argument`); dash only says "I/O error"
    shell = shutil.which("bash") or "sh"
    return subprocess.run([shell, "-c", script], capture_output=True, text=True, timeout=30)


def test_echo_online_from_a_shell(mounted: tuple[numa_hpe.Machine, Path]) -> None:
    m, mnt = mounted
    state = mnt / "devices/system/memory/memory16/state"
    r = _sh(f"echo 128M@0x80000000 > {mnt}/kernel/debug/mem_hotplug/add_node")
    assert r.returncode == 0, r.stderr
    assert state.read_text() == "offline\n"
    r = _sh(f"echo online > {state}")
    assert r.returncode == 0, r.stderr
    assert state.read_text() == "online\n"
    # the same steps on the in-process machine give the same node state
    m.echo("128M@0x80000000", "/sys/kernel/debug/mem_hotplug/add_node")
    m.echo("online", "/sys/devices/system/memory/memory16/state")
    assert (mnt / "devices/system/node/has_memory").read_text() == m.read("/sys/devices/system/node/has_memory")


def test_rejected_write_shows_the_kernel_errno(mounted: tuple[numa_hpe.Machine, Path]) -> None:
    m, mnt = mounted
    state = mnt / "devices/system/memory/memory0/state"
    r = _sh(f"echo online > {state}")  # already online: state_store -> EINVAL
    assert r.returncode != 0
    assert os.strerror(errno.EINVAL) in r.stderr
    fd = os.open(state, os.O_WRONLY)
    try:
        with pytest.raises(OSError) as e:
            os.write(fd, b"bogus\n")
        assert e.value.errno == errno.EINVAL
    finally:
        os.close(fd)
    # a missing attribute: kernfs refuses the create with EACCES
    r = _sh(f"echo 1 > {mnt}/devices/system/memory/no_such_file")
    assert r.returncode != 0 and os.strerror(errno.EACCES) in r.stderr


def test_listing_links_and_modes(mounted: tuple[numa_hpe.Machine, Path]) -> None:
    m, mnt = mounted
    for d in ("devices/system/node", "devices/system/cpu", "devices/system/memory/memory0"):
        assert sorted(os.listdir(mnt / d)) == m.listdir(f"/sys/{d}")
    link = mnt / "devices/system/memory/memory0/node0"
    assert os.readlink(link) == m.readlink("/sys/devices/system/memory/memory0/node0")
    assert (link / "cpulist").read_text() == m.read("/sys/devices/system/node/node0/cpulist")

    def mode(p: str) -> int:
        return os.lstat(mnt / p).st_mode

    assert stat.S_ISDIR(mode("devices/system/cpu")) and stat.S_IMODE(mode("devices/system/cpu")) == 0o755
    assert stat.S_IMODE(mode("devices/system/cpu/online")) == 0o444
    assert stat.S_IMODE(mode("devices/system/memory/memory0/state")) == 0o644
    assert stat.S_IMODE(mode("devices/system/cpu/probe")) == 0o200
    assert stat.S_ISLNK(mode("devices/system/memory/memory0/node0"))
    with pytest.raises(FileNotFoundError):
        os.lstat(mnt / "devices/system/cpu/cpu99")


def test_survives_fuzzed_writes(mounted: tuple[numa_hpe.Machine, Path]) -> None:
    _, mnt = mounted
    rng = random.Random(20261127)
    writable = []
    for root, dirs, files in os.walk(mnt):  # os.walk does not follow the links
        writable += [Path(root) / f for f in files if os.stat(Path(root) / f).st_mode & 0o200]
    assert len(writable) > 10
    for p in writable:
        for _ in range(3):
            data = rng.randbytes(rng.randint(0, 64))
            try:
                fd = os.open(p, os.O_WRONLY)
            except OSError:
                continue  # the file went away (a CPU or block was removed by a fuzzed write)
            try:
                os.write(fd, data)
            except OSError as e:
                assert e.errno != errno.EIO, f"{p}: {data!r} made the server fail"
            finally:
                os.close(fd)
    # still serving, and the tree is still consistent
    assert (mnt / "devices/system/cpu/online").read_text().strip()
    assert "node0" in os.listdir(mnt / "devices/system/node")


# -- tools without a sysroot option, through a private bind mount of the live tree -------------
GiB = 1 << 30


def _dimm_machine() -> numa_hpe.Machine:
    """The oracle's dimm machine with 1 GiB hot-added on node2: offline blocks 32-39."""
    fw = Firmware.qemu(sockets=2, cores=2, threads=1, node_mem=["2G", "0", "0"],
                       node_cpus=[[0, 1], [2, 3], []], maxmem="8G", slots=4,
                       distances=[[10, 20, 30], [20, 10, 25], [30, 25, 10]])
    m = numa_hpe.boot(fw)
    m.add_memory(4 * GiB, GiB, pxm=2)
    return m


Served = tuple[numa_hpe.Machine, Path, Callable[[], numa_hpe.Machine]]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A dimm machine (a copy of it) served on ``tmp_path/sys``, and ``finish()``: unmount, wait
    for the server to exit and load the machine it saved. The mount is gone after the test
    whatever happens."""
    reason = _fuse_unusable()
    if reason:
        pytest.skip(f"FUSE not usable: {reason}")
    from numa_hpe.mount import spawn, stop

    m = _dimm_machine()
    mnt, saved = tmp_path / "sys", tmp_path / "served.bin"
    mnt.mkdir()
    try:
        proc = spawn(m, mnt, timeout=30, save_to=saved)
    except RuntimeError as e:
        pytest.skip(f"FUSE not usable: {e}")

    def finish() -> numa_hpe.Machine:
        stop(mnt, proc)
        assert proc.returncode == 0
        return numa_hpe.Machine.load(saved.read_bytes())

    try:
        yield m, mnt, finish
    finally:
        stop(mnt, proc)
    assert not os.path.ismount(mnt)


def test_save_to_holds_the_served_state(served: Served) -> None:
    m, mnt, finish = served
    r = _sh(f"echo online_movable > {mnt}/devices/system/memory/memory33/state")
    assert r.returncode == 0, r.stderr
    after = finish()
    m.echo("online_movable", "/sys/devices/system/memory/memory33/state")
    assert after.snapshot("/sys/devices/system") == m.snapshot("/sys/devices/system")


def test_chmem_through_a_private_bind_mount(served: Served) -> None:
    """chmem (no --sysroot) changes the served machine exactly as the same stores do on the
    in-process one, and a refused store shows the kernel's errno in chmem's message."""
    from _sysfs_tools import run_tool

    ref, mnt, finish = served
    mem = "/sys/devices/system/memory"
    # what chmem does (chmem(8)): -e SIZE onlines the lowest offline blocks, into Movable when
    # valid_zones offers it ("online_movable", else "online"); -d SIZE offlines the highest online
    # removable ones; -b N names a block; -z ZONE onlines into that zone
    def enable(block: int) -> tuple[str, int]:
        zones = ref.read(f"{mem}/memory{block}/valid_zones").split()
        return ("online_movable" if "Movable" in zones else "online", block)

    steps = [
        (["chmem", "-e", "128M"], lambda: [enable(32)]),
        (["chmem", "-e", "-b", "34"], lambda: [enable(34)]),
        (["chmem", "-e", "256M", "-z", "Normal"], lambda: [("online_kernel", 33), ("online_kernel", 35)]),
        (["chmem", "-d", "128M"], lambda: [("offline", 35)]),
    ]
    for cmd, stores in steps:
        r = run_tool(mnt, *cmd)
        assert r.returncode == 0, f"{cmd}: {r.stderr}"
        for value, block in stores():
            ref.echo(value, f"{mem}/memory{block}/state")
    # block 0 spans two zones: the kernel refuses to offline it
    with pytest.raises(OSError) as refused:
        ref.echo("offline", f"{mem}/memory0/state")
    r = run_tool(mnt, "chmem", "-d", "-b", "0")
    assert r.returncode != 0
    assert f"disable failed: {os.strerror(refused.value.errno)}" in r.stderr
    # numactl sees the node sizes the hot-added memory gave node2
    r = run_tool(mnt, "numactl", "--hardware")
    assert r.returncode == 0, r.stderr
    from _sysfs_tools import check_numactl_hardware

    check_numactl_hardware(r.stdout, ref)

    after = finish()
    blocks = {b.block: (b.state, b.valid_zones, b.nodes) for b in after.memory_blocks()}
    assert blocks == {b.block: (b.state, b.valid_zones, b.nodes) for b in ref.memory_blocks()}
    assert [blocks[i][0] for i in (32, 33, 34, 35, 36)] == ["online", "online", "online", "offline", "offline"]
    assert blocks[32][1] == "Movable" and blocks[33][1] == "Normal" and blocks[0][0] == "online"
    assert after.snapshot("/sys/devices/system") == ref.snapshot("/sys/devices/system")
    assert after.read("/proc/meminfo") == ref.read("/proc/meminfo")


def test_cli_mount_bind_sys(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    from _sysfs_tools import run_tool

    from numa_hpe.cli import main as cli_main

    reason = _fuse_unusable()
    if reason:
        pytest.skip(f"FUSE not usable: {reason}")
    if shutil.which("chmem") is None:
        pytest.skip("chmem (util-linux) is not installed")
    probe = tmp_path / "probe"
    for d in ("cpu", "memory", "node"):
        (probe / "devices/system" / d).mkdir(parents=True)
    assert run_tool(probe, "true").returncode == 0  # skips where no private bind mount can be made
    mnt = tmp_path / "sys"
    mnt.mkdir()
    args = ["mount", str(mnt), "--bind-sys", "--topology", "node:2 package:1 core:2 pu:2",
            "--cmdline", "numa=possible=4",
            "--do", "echo 128M@0x100000000 > /sys/kernel/debug/mem_hotplug/add_node", "--"]
    script = ("chmem -e -b 32 && cat /sys/devices/system/memory/memory32/state "
              "/sys/devices/system/node/has_memory /sys/devices/system/cpu/online")
    capfd.readouterr()
    assert cli_main([*args, "sh", "-c", script]) == 0
    assert capfd.readouterr().out == "online\n0-2\n0-7\n"
    assert not os.path.ismount(mnt)
    assert cli_main([*args, "sh", "-c", "exit 7"]) == 7  # the command's status
    assert not os.path.ismount(mnt)
    with pytest.raises(SystemExit):
        cli_main(["mount", str(mnt), "--bind-sys"])  # no command


def test_bind_sys_argv(tmp_path: Path) -> None:
    from numa_hpe.mount import BIND_SYS_DIRS, bind_sys_argv

    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    argv = bind_sys_argv(tmp_path, ["numactl", "--hardware"])
    assert argv[1:4] == ["-m", "--propagation", "private"]
    sep = argv.index("--")
    assert argv[sep + 1:] == ["numactl", "--hardware"]
    pairs = argv[argv.index("sh", 5) + 1:sep]
    real = [d for d in BIND_SYS_DIRS if os.path.isdir(f"/sys/devices/system/{d}")]
    if len(real) == len(BIND_SYS_DIRS):
        assert pairs == [x for d in BIND_SYS_DIRS
                         for x in (f"{tmp_path}/devices/system/{d}", f"/sys/devices/system/{d}")]
    else:
        assert pairs == [f"{tmp_path}/devices/system", "/sys/devices/system"]
    with pytest.raises(ValueError):
        bind_sys_argv(tmp_path, [])
