"""``numa-hpe show`` and the ``--json`` read commands. Expectations: patchset.md §6 (reference
scenario) and interfaces.md."""

from __future__ import annotations

import json

import pytest

from numa_hpe import Firmware, Machine
from numa_hpe.cli import main
from numa_hpe.show import render, summary

REF = "mem=2G numa=possible=4 maxcpus=2 cpu_hpe=on"


def reference(*writes: tuple[str, str]) -> Machine:
    m = Machine(Firmware.qemu(sockets=1, cores=4, mem="4G"), REF)
    for path, data in writes:
        m.echo(data, path)
    return m


ADD_NODE = ("/sys/kernel/debug/mem_hotplug/add_node", "128M@0x80000000")
ONLINE16 = ("/sys/devices/system/memory/memory16/state", "online")


def test_summary_after_boot() -> None:
    s = summary(reference())
    assert s["cpus"] == {"possible": [0, 1, 2, 3], "present": [0, 1, 2, 3], "online": [0, 1],
                         "unregistered": [2, 3]}  # cpu_hpe=on: no device for cpu2/cpu3
    assert [(n["node"], n["online"]) for n in s["nodes"]] == [(0, True), (1, False), (2, False),
                                                              (3, False), (4, False)]
    n0 = s["nodes"][0]
    assert n0["cpus"] == [0, 1]
    assert n0["packages"] == [{"package": 0, "cores": [{"core": 0, "cpus": [{"cpu": 0, "online": True}]},
                                                        {"core": 1, "cpus": [{"cpu": 1, "online": True}]}]}]
    # memory0..memory15 online (mem=2G)
    assert s["memory_bytes"] == s["memory_online_bytes"] == 2 << 30
    assert n0["memory"][0]["start"] == 0 and n0["memory"][-1]["end"] == (2 << 30) - 1
    assert n0["memory"][-1]["last_block"] == 15


def test_summary_after_add_node() -> None:
    s = summary(reference(ADD_NODE))
    n1 = s["nodes"][1]
    assert n1["online"] and not n1["has_memory"]
    assert [(r["start"], r["end"], r["state"], r["first_block"]) for r in n1["memory"]] == [
        (0x80000000, 0x87FFFFFF, "offline", 16)]
    s = summary(reference(ADD_NODE, ONLINE16))
    n1 = s["nodes"][1]
    assert n1["has_memory"] and n1["has_normal_memory"]
    assert n1["mem_total_kb"] == 131072  # node1/meminfo MemTotal (patchset.md §6)
    assert n1["memory"][0]["state"] == "online"


def test_render_tree() -> None:
    text = render(summary(reference(ADD_NODE, ONLINE16)), ascii_only=True)
    lines = text.splitlines()
    assert lines[0].startswith("Machine (2.125 GiB online")
    assert "|-- NUMANode P#0 (online" in text
    assert "|-- NUMANode P#1 (online, MemTotal 128 MiB, cpus none, has memory+normal)" in text
    assert "|   |-- Package P#0" in text
    assert "Core P#1: PU P#1 (online)" in text
    assert "[mem 0x0000000080000000-0x0000000087ffffff] 128 MiB memory16 online zone Normal" in text
    assert "NUMANode P#4 (possible, offline)" in lines[-2]
    assert lines[-1].endswith("Present CPUs without a device: 2-3")
    assert "├── " in render(summary(reference()))


def test_offline_cpu_shows_without_topology() -> None:
    m = reference(ADD_NODE, ("/sys/devices/system/cpu/probe", "1"))
    text = render(summary(m))
    # probed cpu2 is registered on node1 but offline: no topology/ directory
    assert "PU P#2 (offline, no topology)" in text


def test_cli_show(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", "--cmdline", REF, "--ascii"]) == 0
    assert capsys.readouterr().out.startswith("Machine (2 GiB online of 2 GiB; CPUs online 0-1 present 0-3")
    assert main(["show", "--json", "--topology", "node:2 core:2", "--do", "echo 0 > /sys/devices/system/cpu/cpu3/online"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["cpus"]["online"] == [0, 1, 2]
    assert [n["cpus"] for n in s["nodes"]] == [[0, 1], [2, 3]]


def test_cli_json_reads(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cat", "--json", "/sys/devices/system/node/possible", "--cmdline", REF]) == 0
    assert json.loads(capsys.readouterr().out) == {"path": "/sys/devices/system/node/possible", "data": "0-4\n"}
    assert main(["ls", "--json", "/sys/devices/system/memory/memory0", "--topology", "node:1 core:1"]) == 0
    entries = {e["name"]: e for e in json.loads(capsys.readouterr().out)["entries"]}
    assert entries["state"]["type"] == "file"
    assert entries["node0"] == {"name": "node0", "type": "link", "target": "../../node/node0"}
    assert main(["dmesg", "--json", "--cmdline", REF]) == 0
    log = json.loads(capsys.readouterr().out)
    assert "BIOS-provided physical RAM map:" in log
    assert main(["boot", "--json", "--cmdline", REF]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cmdline"] == REF and doc["summary"]["cpus"]["online"] == [0, 1]
    assert "BIOS-provided physical RAM map:" in doc["dmesg"]


def test_cli_do_accepts_firmware_events(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["cat", "/sys/devices/system/memory/memory32/state", "--firmware",
                 "qemu cores=2 mem=2G slots=2 maxmem=4G", "--do", "firmware add_memory 4G 1G"]) == 0
    assert capsys.readouterr().out == "offline\n"
    assert main(["cat", "/sys/devices/system/node/online", "--do", "echo bogus > /sys/devices/system/memory/memory0/state"]) == 1
    assert "EINVAL" in capsys.readouterr().err
