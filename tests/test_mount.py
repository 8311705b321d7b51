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
from collections.abc import Iterator
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
    from numa_hpe.mount import spawn, unmount

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
        if os.path.ismount(mnt):
            unmount(mnt)
        proc.wait(timeout=30)


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
