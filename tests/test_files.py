"""File-interface rules (interfaces.md §0, oracle README "Observed on this kernel"): errno of
rejected writes, OSError shape, and that a rejected write changes nothing but the log."""

from __future__ import annotations

import errno

import pytest

import numa_hpe
from numa_hpe import Firmware

SYS = "/sys/devices/system"


@pytest.fixture(params=["oracle", "numa_hpe"])
def machine(request: pytest.FixtureRequest) -> numa_hpe.Machine:
    """2 CPUs, 2 GiB, UMA: the oracle case ``uma`` (``-smp 2 -m 2G``)."""
    return numa_hpe.boot(Firmware.qemu(cores=2, mem="2G"), cmdline="nokaslr", kernel_config=request.param)


def _write_errno(m: numa_hpe.Machine, path: str, data: str) -> OSError:
    with pytest.raises(OSError) as e:
        m.write(path, data)
    assert isinstance(e.value.errno, int)
    assert path in str(e.value), f"message does not name the path: {e.value}"
    return e.value


@pytest.mark.parametrize(
    "path",
    [
        f"{SYS}/node/online",
        f"{SYS}/node/possible",
        f"{SYS}/node/has_memory",
        f"{SYS}/memory/block_size_bytes",
        f"{SYS}/memory/memory8/phys_index",
        f"{SYS}/memory/memory8/valid_zones",
        f"{SYS}/cpu/online",
        f"{SYS}/cpu/present",
        f"{SYS}/node/node0/distance",
    ],
)
def test_write_read_only_is_eacces(machine: numa_hpe.Machine, path: str) -> None:
    before = machine.read(path)
    assert _write_errno(machine, path, "0\n").errno == errno.EACCES
    assert machine.read(path) == before


@pytest.mark.parametrize(
    "path",
    [
        f"{SYS}/cpu/cpu0/online",  # cpu0 has no online file
        f"{SYS}/memory/memory8/bogus",
        f"{SYS}/node/node0/bogus",
        f"{SYS}/node/add_node",
    ],
)
def test_missing_file_in_existing_dir_is_eacces(machine: numa_hpe.Machine, path: str) -> None:
    assert _write_errno(machine, path, "1\n").errno == errno.EACCES


def test_memory_probe_absent_in_oracle_config() -> None:
    m = numa_hpe.boot(Firmware.qemu(cores=2, mem="2G"), kernel_config="oracle")
    assert not m.exists(f"{SYS}/memory/probe")
    assert _write_errno(m, f"{SYS}/memory/probe", "0x100000000\n").errno == errno.EACCES


@pytest.mark.parametrize(
    "path",
    [
        f"{SYS}/memory/memory999/state",
        f"{SYS}/cpu/cpu2/online",  # 2 CPUs: there is no cpu2
        f"{SYS}/node/node1/cpulist",
        "/sys/nonexistent/dir/file",
    ],
)
def test_missing_dir_is_enoent(machine: numa_hpe.Machine, path: str) -> None:
    assert _write_errno(machine, path, "1\n").errno == errno.ENOENT


@pytest.mark.parametrize(
    "path",
    [
        # The kernel names these directories with "%d": no sign, no leading zero.
        f"{SYS}/cpu/cpu+1/online",
        f"{SYS}/cpu/cpu01/online",
        f"{SYS}/memory/memory+1/state",
        f"{SYS}/memory/memory01/state",
        f"{SYS}/node/node+0/cpulist",
        f"{SYS}/node/node00/cpulist",
        f"{SYS}/node/node0/cpu+1",
        f"{SYS}/node/node0/memory01",
        f"{SYS}/node/node0/cpu2",  # no cpu2 at all
    ],
)
def test_non_kernel_entry_names_are_enoent(machine: numa_hpe.Machine, path: str) -> None:
    with pytest.raises(OSError) as e:
        machine.read(path)
    assert e.value.errno == errno.ENOENT


def test_walk_through_a_file_is_enotdir(machine: numa_hpe.Machine) -> None:
    """A file in the middle of a path is ENOTDIR for reads and writes, also behind a link."""
    for path in (f"{SYS}/cpu/online/x", f"{SYS}/node/node0/cpu1/online/x"):
        with pytest.raises(OSError) as e:
            machine.read(path)
        assert e.value.errno == errno.ENOTDIR and path in str(e.value)
        assert _write_errno(machine, path, "1\n").errno == errno.ENOTDIR


def test_node_links_resolve_without_listing(machine: numa_hpe.Machine) -> None:
    """``nodeN/cpuM`` and ``nodeN/memoryB`` exist exactly for the node's CPUs and blocks."""
    listed = set(machine.listdir(f"{SYS}/node/node0"))
    assert {"cpu0", "cpu1", "memory0", "cpulist", "distance"} <= listed
    for name in listed:
        if name.startswith(("cpu", "memory")) and name[-1].isdigit():
            target = machine.readlink(f"{SYS}/node/node0/{name}")
            assert target == f"../../{'cpu' if name.startswith('cpu') else 'memory'}/{name}"
    # A path walk follows the links, as the kernel's does.
    assert machine.read(f"{SYS}/node/node0/cpu1/online") == "1\n"
    assert machine.listdir(f"{SYS}/node/node0/cpu1") == machine.listdir(f"{SYS}/cpu/cpu1")
    assert machine.read(f"{SYS}/cpu/cpu1/node0/cpulist") == machine.read(f"{SYS}/node/node0/cpulist")
    machine.write(f"{SYS}/node/node0/cpu1/online", "0\n")
    assert machine.read(f"{SYS}/cpu/online") == "0\n"


def test_read_missing_path_raises_with_path(machine: numa_hpe.Machine) -> None:
    path = f"{SYS}/memory/memory999/state"
    with pytest.raises(OSError) as e:
        machine.read(path)
    assert e.value.errno == errno.ENOENT
    assert path in str(e.value)


@pytest.mark.parametrize(
    ("path", "data", "err"),
    [  # errnos from the oracle case uma (steps) and interfaces.md §5/§6
        (f"{SYS}/memory/memory0/state", "bogus\n", errno.EINVAL),
        (f"{SYS}/memory/memory8/state", "\n", errno.EINVAL),
        (f"{SYS}/memory/memory8/state", "online\n", errno.EINVAL),  # already online
        (f"{SYS}/memory/memory8/online", "2\n", errno.EINVAL),
        (f"{SYS}/memory/memory0/state", "offline\n", errno.EINVAL),  # mixed-zone block
        (f"{SYS}/memory/auto_online_blocks", "bogus\n", errno.EINVAL),
        (f"{SYS}/cpu/cpu1/online", "2\n", errno.EINVAL),
        (f"{SYS}/node/online", "0-1\n", errno.EACCES),
        (f"{SYS}/cpu/cpu0/online", "0\n", errno.EACCES),
        (f"{SYS}/memory/memory999/state", "online\n", errno.ENOENT),
    ],
)
def test_rejected_write_changes_nothing_but_dmesg(
    machine: numa_hpe.Machine, path: str, data: str, err: int
) -> None:
    before = machine.snapshot()
    assert _write_errno(machine, path, data).errno == err
    after = machine.snapshot()
    assert after["files"] == before["files"]
    assert after["links"] == before["links"]
    assert after["unreadable"] == before["unreadable"]


def test_accepted_idempotent_writes(machine: numa_hpe.Machine) -> None:
    """Writing the current value to ``online`` succeeds (oracle README) and returns the count."""
    assert machine.write(f"{SYS}/memory/memory8/online", "1\n") == 2
    assert machine.write(f"{SYS}/cpu/cpu1/online", "1\n") == 2
    assert machine.read(f"{SYS}/cpu/online") == "0-1\n"
