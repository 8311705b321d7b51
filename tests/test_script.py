"""Scenario scripts (``numa_hpe.script``, ``numa-hpe run``). Expected values come from
shared/spec (patchset.md §6, interfaces.md) and the oracle cases, written into the scripts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from numa_hpe import Firmware
from numa_hpe.cli import main
from numa_hpe.script import Runner, Script, ScriptError, run_script

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
REF = "# firmware: qemu sockets=1 cores=4 mem=4G\n# boot: mem=2G numa=possible=4 maxcpus=2 cpu_hpe=on\n"


def write(tmp_path: Path, text: str, name: str = "s.hpe") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.hpe")))
def test_example_scripts_pass(name: str) -> None:
    _, results, errors = run_script(Script.load(EXAMPLES / name), keep_going=True)
    assert errors == []
    assert results


def test_examples_exist() -> None:
    names = {p.name for p in EXAMPLES.glob("*.hpe")}
    assert {"reference_scenario.hpe", "seed_session.hpe", "v7_add_memory.hpe"} <= names


def test_parse_header_annotations_and_lines() -> None:
    s = Script.parse(REF + "\n# a comment\n# expect: EINVAL\necho bogus > /x\n# output: 0\ncat /y\n", "t.hpe")
    assert s.header == {"firmware": "qemu sockets=1 cores=4 mem=4G",
                        "boot": "mem=2G numa=possible=4 maxcpus=2 cpu_hpe=on"}
    assert [(c.lineno, c.text, c.expect, c.output) for c in s.commands] == [
        (6, "echo bogus > /x", "EINVAL", None), (8, "cat /y", None, ["0"])]


def test_header_after_first_command_is_a_comment() -> None:
    s = Script.parse("cat /a\n# boot: mem=1G\ncat /b\n")
    assert s.header == {}


def test_dangling_annotation_points_at_its_line() -> None:
    with pytest.raises(ScriptError) as e:
        Script.parse("cat /a\n\n# expect: EINVAL\n", "d.hpe")
    assert str(e.value).startswith("d.hpe:3: ")


def test_unknown_errno_name() -> None:
    with pytest.raises(ScriptError, match=r"u.hpe:1: expect: unknown outcome"):
        Script.parse("# expect: ENOTANERRNO\ncat /a\n", "u.hpe")


def test_header_machine() -> None:
    m = Script.parse(REF).machine()
    assert m.read("/proc/cmdline") == "mem=2G numa=possible=4 maxcpus=2 cpu_hpe=on\n"
    assert m.read("/sys/devices/system/cpu/present") == "0-3\n"  # 4 cores
    assert m.read("/sys/devices/system/node/possible") == "0-4\n"


def test_topology_header() -> None:
    m = Script.parse("# topology: numa:2(memory=512MB) core:2 pu:1\n").machine()
    assert m.read("/sys/devices/system/node/online") == "0-1\n"
    assert m.read("/sys/devices/system/cpu/possible") == "0-3\n"
    assert m.read("/sys/devices/system/node/node1/cpulist") == "2-3\n"


def test_case_header(oracle: Path, tmp_path: Path) -> None:
    s = Script.parse(f"# case: {oracle / 'cases' / 'numa4'}\n", base=tmp_path)
    m = s.machine()
    assert m.read("/sys/devices/system/node/online") == "0-3\n"  # numa4: 4 nodes
    assert m.read("/sys/devices/system/node/node0/distance") == "10 12 20 22\n"
    assert not m.exists("/sys/devices/system/cpu/probe")  # oracle kernel config


def test_overrides_win_over_header() -> None:
    m = Script.parse(REF).machine(cmdline="numa=possible=2")
    assert m.read("/sys/devices/system/node/possible") == "0-2\n"


def test_mismatch_points_at_the_line() -> None:
    s = Script.parse(REF + "# expect: EINVAL\necho online > /sys/devices/system/memory/memory0/online\n", "m.hpe")
    with pytest.raises(ScriptError) as e:
        run_script(s)
    # memoryN/online: already online -> success (interfaces.md §5)
    assert str(e.value).startswith("m.hpe:4: echo online")
    assert "expected EINVAL, got ok" in str(e.value)


def test_unexpected_failure_is_an_error() -> None:
    s = Script.parse(REF + "\n\necho bogus > /sys/devices/system/memory/memory0/state\n", "f.hpe")
    with pytest.raises(ScriptError, match=r"^f.hpe:5: .*expected ok, got EINVAL"):
        run_script(s)


def test_output_mismatch() -> None:
    s = Script.parse(REF + "# output: 0-3\ncat /sys/devices/system/cpu/online\n", "o.hpe")
    with pytest.raises(ScriptError, match=r"o.hpe:4: .*expected output \['0-3'\], got \['0-1'\]"):
        run_script(s)


def test_keep_going_collects_every_mismatch() -> None:
    s = Script.parse(REF + "cat /nonexistent\n# expect: EBUSY\ncat /sys/devices/system/cpu/online\n", "k.hpe")
    _, results, errors = run_script(s, keep_going=True)
    assert [e.lineno for e in errors] == [3, 5]
    assert results[0].status == "ENOENT"


def test_syntax_errors_point_at_the_line() -> None:
    for bad in ("frobnicate /x", "firmware add_memory 0x100000000", "firmware add_cpu 4 node=1",
                "firmware remove_cpu 4 pxm=1", "firmware bogus 1", "echo 'unterminated > /x",
                "echo a > /x /y"):
        with pytest.raises(ScriptError, match=r"^b.hpe:3: "):
            run_script(Script.parse(REF + bad + "\n", "b.hpe"))


def test_echo_forms() -> None:
    m = Script.parse(REF).machine()
    r = Runner(m)
    # fewer than 2 bytes -> EPERM (patchset.md P5); `echo 1` writes "1\n"
    assert r.run("echo -n 1 > /sys/devices/system/cpu/probe").status == "EPERM"
    assert r.run("echo 128M@0x80000000 >/sys/kernel/debug/mem_hotplug/add_node").status == "ok"
    assert r.run("echo 1 >> /sys/devices/system/cpu/probe").status == "ok"
    assert r.run("echo hello").output == ["hello"]
    assert m.read("/sys/devices/system/node/online") == "0-1\n"


def test_firmware_events_from_the_dimm_case() -> None:
    fw = Firmware.qemu(sockets=2, cores=2, mem="2G", slots=4, maxmem="8G", node_mem=["2G", 0, 0],
                       node_cpus=[[0, 1], [2, 3], []], distances=[[10, 20, 30], [20, 10, 25], [30, 25, 10]])
    from numa_hpe import Machine

    r = Runner(Machine(fw, "nokaslr", "oracle"))
    # dimm case: a 1 GiB DIMM with _PXM 2 at 4 GiB lands on node 2 (blocks 32-39)
    assert r.run("firmware add_memory 0x100000000 1G pxm=2").output == ["node 2"]
    assert r.run("cat /sys/devices/system/memory/memory39/state").output == ["offline"]
    assert r.run("firmware remove_memory 4294967296 1073741824").status == "ok"
    assert r.run("ls /sys/devices/system/memory/memory32").status == "ENOENT"


def test_cpu_firmware_events_from_the_cpuhp_case() -> None:
    fw = Firmware.qemu(sockets=2, cores=2, threads=2, cpus=2, node_mem=["1G", "1G"],
                       node_cpus=[[0, 1, 2, 3], [4, 5, 6, 7]], distances=[[10, 21], [21, 10]])
    from numa_hpe import Machine

    r = Runner(Machine(fw, "sched_verbose nokaslr", "oracle"))
    # cpuhp case: APIC 4 and 5 (pxm 1) become CPUs 2 and 3
    assert r.run("firmware add_cpu 4 pxm=1").output == ["cpu 2"]
    assert r.run("firmware add_cpu 0x5 pxm=1").output == ["cpu 3"]


def test_dmesg_command() -> None:
    r = Runner(Script.parse(REF).machine())
    assert "BIOS-provided physical RAM map:" in r.run("dmesg -c").output  # the boot log
    r.run("echo 1 > /sys/devices/system/cpu/release")
    new = r.run("dmesg -c").output
    # interfaces.md §9: `smpboot: CPU %u is now offline`; -c shows only lines since the last -c
    assert "smpboot: CPU 1 is now offline" in new
    assert "BIOS-provided physical RAM map:" not in new
    assert r.run("dmesg -c").output == []
    assert "BIOS-provided physical RAM map:" in r.run("dmesg").output


# -- the CLI --------------------------------------------------------------------------------
def test_cli_run_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", str(EXAMPLES / "reference_scenario.hpe")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:4] == ["0-4", "0", "0-3", "0-1"]


def test_cli_run_trace(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "-x", str(EXAMPLES / "seed_session.hpe")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[:2] == ["+ cat /sys/devices/system/node/possible", "0-4"]


def test_cli_run_failure_exit_and_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, REF + "cat /sys/devices/system/cpu/online\n# expect: EINVAL\ncat /sys/devices/system/cpu/online\ncat /x\n")
    assert main(["run", str(p)]) == 1
    cap = capsys.readouterr()
    assert cap.out == "0-1\n0-1\n"
    assert f"{p}:5: cat /sys/devices/system/cpu/online: expected EINVAL, got ok" in cap.err
    assert main(["run", "-k", str(p)]) == 1
    assert f"{p}:6: cat /x" in capsys.readouterr().err


def test_cli_run_syntax_error_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, "\n\nmount /x\n")
    assert main(["run", str(p)]) == 2
    assert f"{p}:3: unknown command `mount`" in capsys.readouterr().err


def test_cli_run_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--json", str(EXAMPLES / "v7_add_memory.hpe")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["errors"] == []
    eexist = [r for r in doc["results"] if r["status"] == "EEXIST"]
    assert [r["command"] for r in eexist] == ["echo 0x40000000,3 > /sys/kernel/debug/mem_hotplug/add_memory"]


def test_cli_options_override_header(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    p = write(tmp_path, REF + "cat /sys/devices/system/node/possible\n")
    assert main(["run", str(p), "--cmdline", "numa=possible=1", "--topology", "node:2 core:1"]) == 0
    assert capsys.readouterr().out == "0-2\n"


def test_embedding_example_runs() -> None:
    import runpy

    runpy.run_path(str(EXAMPLES / "embedding.py"), run_name="__main__")
