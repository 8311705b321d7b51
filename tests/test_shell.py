"""``numa-hpe shell``: the same command language, from a pipe and (when tmux is there) from a
terminal with Tab completion. Expectations from patchset.md §6."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from numa_hpe import Firmware, Machine
from numa_hpe.shell import Shell

REF = "mem=2G numa=possible=4 maxcpus=2 cpu_hpe=on"


def numa_hpe_exe() -> str:
    exe = Path(sys.executable).with_name("numa-hpe")
    return str(exe) if exe.exists() else (shutil.which("numa-hpe") or "numa-hpe")


def machine() -> Machine:
    return Machine(Firmware.qemu(sockets=1, cores=4, mem="4G"), REF)


def test_piped_session_in_process(capsys: pytest.CaptureFixture[str]) -> None:
    session = ("cat /sys/devices/system/node/possible\n"
               "# comments are skipped\n"
               "\n"
               "echo 128M@0x80000000 > /sys/kernel/debug/mem_hotplug/add_node\n"
               "echo online > /sys/devices/system/memory/memory16/state\n"
               "cat /sys/devices/system/node/has_memory\n"
               "echo -n 1 > /sys/devices/system/cpu/probe\n"
               "bogus\n"
               "cat /sys/devices/system/node/online\n")
    out = io.StringIO()
    sh = Shell(machine(), stdin=io.StringIO(session), stdout=out, interactive=False)
    sh.cmdloop()
    assert out.getvalue() == "0-4\n0-1\n0-1\n"
    err = capsys.readouterr().err
    assert "[EPERM]" in err and "unknown command `bogus`" in err
    assert sh.failures == 2


def test_piped_session_through_the_console_script() -> None:
    r = subprocess.run([numa_hpe_exe(), "shell", "--no-history", "--cmdline", REF],
                       input="cat /sys/devices/system/cpu/online\nshow\nexit\ncat /never\n",
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "0-1"
    assert lines[1].startswith("Machine (")
    assert "/never" not in r.stderr  # exit stops the session


def test_failed_command_sets_exit_status() -> None:
    r = subprocess.run([numa_hpe_exe(), "shell", "--no-history"], input="cat /nope\n",
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert "ENOENT" in r.stderr


def test_path_completion() -> None:
    sh = Shell(machine(), stdin=io.StringIO(""), stdout=io.StringIO(), interactive=False)
    assert sh.complete_path("/sys/devices/system/no") == ["/sys/devices/system/node/"]
    assert sh.complete_path("/sys/devices/system/node/po") == ["/sys/devices/system/node/possible"]
    cpus = set(sh.complete_path("/sys/devices/system/cpu/cpu"))
    # cpu_hpe=on, maxcpus=2: only cpu0 and cpu1 have a device directory (patchset.md §6)
    assert {"/sys/devices/system/cpu/cpu0/", "/sys/devices/system/cpu/cpu1/"} <= cpus
    assert "/sys/devices/system/cpu/cpu2/" not in sh.complete_path("/sys/devices/system/cpu/cpu")
    assert sh.complete_path("relative") == []
    assert sh.complete_path("/nonexistent/x") == []
    assert sh.completenames("ec") == ["echo"]
    assert sh.completedefault("add_", "firmware add_", 9, 13) == ["add_memory", "add_cpu"]
    assert sh.completedefault(">/sys/devices/system/node/on", "echo 1 >/sys/devices/system/node/on", 7, 35) == [
        ">/sys/devices/system/node/online"]


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_tab_completion_in_tmux(tmp_path: Path) -> None:
    sock = str(tmp_path / "tmux.sock")
    name = "hpe"
    cmd = f"{numa_hpe_exe()} shell --history {tmp_path / 'hist'} --cmdline '{REF}'"
    tmux = ["tmux", "-S", sock]
    subprocess.run(tmux + ["new-session", "-d", "-s", name, "-x", "120", "-y", "30", cmd], check=True)
    try:
        def screen() -> str:
            return subprocess.run(tmux + ["capture-pane", "-p", "-t", name], capture_output=True,
                                  text=True, check=True).stdout

        def wait_for(text: str) -> str:
            # poll the pane (no fixed sleeps): the shell answers within a few hundred ms
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                s = screen()
                if text in s:
                    return s
                subprocess.run(tmux + ["wait-for", "-S", "none"], check=False)  # yields to tmux
            raise AssertionError(f"{text!r} not on screen:\n{screen()}")

        wait_for("numa-hpe#")
        subprocess.run(tmux + ["send-keys", "-t", name, "cat /sys/devices/system/node/poss", "Tab"], check=True)
        wait_for("cat /sys/devices/system/node/possible")
        subprocess.run(tmux + ["send-keys", "-t", name, "Enter"], check=True)
        s = wait_for("0-4")
        assert "cat /sys/devices/system/node/possible" in s
        subprocess.run(tmux + ["send-keys", "-t", name, "exit", "Enter"], check=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (tmp_path / "hist").exists():
            subprocess.run(tmux + ["wait-for", "-S", "none"], check=False)
        # history was written on exit
        assert "cat /sys/devices/system/node/possible" in (tmp_path / "hist").read_text()
    finally:
        subprocess.run(tmux + ["kill-server"], check=False, capture_output=True)
