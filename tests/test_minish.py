"""The busybox-sh subset used for the oracle's `shell` steps: results follow POSIX sh rules and
the kernel's file semantics (expectations from the shell language and interfaces.md, not from
running the code)."""

from __future__ import annotations

import pytest

import numa_hpe
from numa_hpe.minish import MiniSh

MEM = "/sys/devices/system/memory"


@pytest.fixture
def sh() -> MiniSh:
    # 2 GiB UMA guest: memory0..memory15, all online; memory0 spans DMA and DMA32
    return MiniSh(numa_hpe.Machine(numa_hpe.Firmware.qemu(cores=2, mem="2G"), kernel_config="oracle"))


@pytest.mark.parametrize(
    ("script", "rc", "out"),
    [
        ("cat /sys/devices/system/node/online", 0, "0\n"),
        (f"for f in {MEM}/memory1*/state; do cat $f; done | grep -c online", 0, "7\n"),
        (f"echo offline > {MEM}/memory12/state && cat {MEM}/memory12/state", 0, "offline\n"),
        (f"echo bogus > {MEM}/memory0/state || echo failed", 0, "failed\n"),
        (f"echo offline > {MEM}/memory0/state; echo $?x", 0, "1x\n"),
        (f"if [ -e {MEM}/probe ]; then echo yes; else echo no; fi", 0, "no\n"),
        ("test -d /sys/devices/system/node/node0 && echo dir", 0, "dir\n"),
        ("x=$(cat /sys/devices/system/cpu/online); echo $x", 0, "0-1\n"),
        ("for i in $(seq 0 2); do echo -n $i; done", 0, "012"),
        ("cat /sys/devices/system/cpu/cpu9/online", 1, ""),
        ("false || true", 0, ""),
        ("true && false", 1, ""),
        (f"ls {MEM} | grep -c '^memory'", 0, "16\n"),
    ],
)
def test_shell_steps(sh: MiniSh, script: str, rc: int, out: str) -> None:
    assert sh.run(script) == (rc, out)


def test_write_error_is_rc_1_and_state_unchanged(sh: MiniSh) -> None:
    before = sh.m.snapshot()["files"]
    assert sh.run(f"echo bogus > {MEM}/memory3/state") == (1, "")
    assert sh.m.snapshot()["files"] == before
