"""``numa-hpe``: boot, inspect and replay emulated machines from the shell."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .firmware import Firmware, default_firmware
from .machine import Machine, errno_name
from .replay import replay

DEMO_CMDLINE = "mem=2G numa=possible=4 maxcpus=2 cpu_hpe=on"
# The patchset's documented session (shared/spec/patchset.md §6), as shell commands.
DEMO_SESSION = [
    "cat /sys/devices/system/node/possible",
    "cat /sys/devices/system/cpu/present",
    "echo 128M@0x80000000 > /sys/kernel/debug/mem_hotplug/add_node",
    "cat /sys/devices/system/node/online",
    "cat /sys/devices/system/memory/memory16/state",
    "echo online > /sys/devices/system/memory/memory16/state",
    "cat /sys/devices/system/node/has_memory",
    "cat /sys/devices/system/node/node1/distance",
    "echo 1 > /sys/devices/system/cpu/probe",
    "echo 1 > /sys/devices/system/cpu/cpu2/online",
    "cat /sys/devices/system/node/has_cpu",
    "cat /sys/devices/system/node/node1/cpulist",
    "echo 2 > /sys/devices/system/cpu/release",
    "cat /sys/devices/system/cpu/online",
]


def machine_from_args(a: argparse.Namespace) -> Machine:
    if getattr(a, "case", None):
        case = json.loads((Path(a.case) / "case.json").read_text())
        cmdline = a.cmdline if a.cmdline is not None else case.get("cmdline", "")
        return Machine(case["firmware"], cmdline, case.get("kernel_config") or "oracle")
    if getattr(a, "firmware", None):
        fw = Firmware.from_json(Path(a.firmware).read_text())
    elif getattr(a, "topology", None):
        fw = Firmware.synthetic(a.topology, mem_per_node=a.mem_per_node)
    else:
        fw = default_firmware()
    return Machine(fw, a.cmdline or "", a.kernel_config)


def run_command(m: Machine, cmd: str, out: list[str]) -> int:
    """Run one `echo X > P` / `cat P` / `ls P` line; returns 0 or the errno."""
    cmd = cmd.strip()
    if cmd.startswith("echo ") and ">" in cmd:
        left, path = cmd[5:].rsplit(">", 1)
        newline = "\n"
        left = left.strip()
        if left.startswith("-n "):
            newline, left = "", left[3:].strip()
        try:
            m.write(path.strip(), left.strip("\"'") + newline)
            return 0
        except OSError as e:
            out.append(f"sh: write error: {e.strerror} [{errno_name(e)}]")
            return e.errno or 1
    if cmd.startswith("cat "):
        try:
            out.append(m.read(cmd[4:].strip()).rstrip("\n"))
            return 0
        except OSError as e:
            out.append(f"cat: {cmd[4:].strip()}: {e.strerror} [{errno_name(e)}]")
            return e.errno or 1
    if cmd.startswith("ls"):
        path = cmd[2:].strip() or "/"
        try:
            out.append("  ".join(m.listdir(path)))
            return 0
        except OSError as e:
            out.append(f"ls: {path}: {e.strerror}")
            return e.errno or 1
    raise SystemExit(f"numa-hpe: unsupported command {cmd!r}")


def cmd_demo(a: argparse.Namespace) -> int:
    m = Machine(default_firmware(), DEMO_CMDLINE)
    print(f"# boot: {DEMO_CMDLINE} (4 CPUs, 4 GiB, UMA; kernel config numa_hpe)")
    seen = len(m.dmesg())
    for cmd in DEMO_SESSION:
        out: list[str] = []
        print(f"# {cmd}")
        run_command(m, cmd, out)
        for line in out:
            print(line)
        new = m.dmesg()[seen:]
        seen += len(new)
        for line in new:
            print(f"  [dmesg] {line}")
    return 0


def cmd_tree(a: argparse.Namespace) -> int:
    m = machine_from_args(a)

    def walk(path: str, depth: int) -> None:
        for name in m.listdir(path):
            p = f"{path.rstrip('/')}/{name}"
            kind = m.stat(p)
            if kind == "link":
                print(f"{'  ' * depth}{name} -> {m.readlink(p)}")
            elif kind == "dir":
                print(f"{'  ' * depth}{name}/")
                if depth < a.depth:
                    walk(p, depth + 1)
            else:
                print(f"{'  ' * depth}{name}")

    walk(a.path, 0)
    return 0


def cmd_export(a: argparse.Namespace) -> int:
    from .export import tty_progress

    m = _prepared(a)
    st = m.export(a.dir, force=a.force, threads=a.threads, progress=tty_progress())
    print(f"exported {st.files} files, {st.links} links, {st.dirs} directories "
          f"({st.bytes / (1 << 20):.1f} MiB) to {a.dir} in {st.seconds:.2f} s")
    print(f"hint: lscpu --sysroot {a.dir}; lsmem --sysroot {a.dir}; "
          f"lstopo-no-graphics --if fsroot --input {a.dir}")
    return 0


def cmd_mount(a: argparse.Namespace) -> int:
    from .mount import mount

    m = _prepared(a)
    return mount(m, a.dir, foreground=not a.background)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="numa-hpe", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def machine_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--firmware", help="firmware JSON file (FORMAT.md `firmware`)")
        p.add_argument("--case", help="boot an oracle case directory's firmware and cmdline")
        p.add_argument("--topology", help='synthetic topology, e.g. "node:4 package:1 core:8 pu:2"')
        p.add_argument("--mem-per-node", default="1G")
        p.add_argument("--cmdline", default=None, help="kernel command line")
        p.add_argument("--kernel-config", default="numa_hpe", choices=["numa_hpe", "oracle"])
        p.add_argument("--do", action="append", default=[], metavar="CMD",
                       help="run `echo X > PATH` before the main action (repeatable)")

    p = sub.add_parser("demo", help="replay the patchset's documented session on the default machine")
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser("boot", help="boot and print the dmesg summary")
    machine_opts(p)
    p.set_defaults(fn=lambda a: _print_lines(_prepared(a).dmesg()))
    p = sub.add_parser("dmesg", help="print the kernel log")
    machine_opts(p)
    p.set_defaults(fn=lambda a: _print_lines(_prepared(a).dmesg()))
    p = sub.add_parser("cat", help="print a file")
    machine_opts(p)
    p.add_argument("path")
    p.set_defaults(fn=lambda a: _cat(_prepared(a), a.path))
    p = sub.add_parser("ls", help="list a directory")
    machine_opts(p)
    p.add_argument("path")
    p.set_defaults(fn=lambda a: _print_lines(_prepared(a).listdir(a.path)))
    p = sub.add_parser("tree", help="print the file tree below a path")
    machine_opts(p)
    p.add_argument("path", nargs="?", default="/sys/devices/system")
    p.add_argument("--depth", type=int, default=2)
    p.set_defaults(fn=cmd_tree)
    p = sub.add_parser("export", help="write /sys and /proc as files for lscpu/lsmem/lstopo --sysroot")
    machine_opts(p)
    p.add_argument("dir")
    p.add_argument("--force", action="store_true", help="replace sys/ and proc/ of a non-empty DIR")
    p.add_argument("--threads", type=int, default=None, help="writer threads (default: CPUs, at most 4)")
    p.set_defaults(fn=cmd_export)
    p = sub.add_parser("mount", help="mount the live tree with FUSE (reads and writes reach the emulator)")
    machine_opts(p)
    p.add_argument("dir")
    p.add_argument("--background", action="store_true",
                   help="return once mounted; unmount with `umount DIR` (default: serve until unmounted or ^C)")
    p.set_defaults(fn=cmd_mount)
    p = sub.add_parser("replay", help="replay an oracle case into OUT_DIR (compare.py input)")
    p.add_argument("case_dir")
    p.add_argument("-o", "--out", required=True)
    p.set_defaults(fn=lambda a: (replay(a.case_dir, a.out), 0)[1])
    a = ap.parse_args(argv)
    try:
        return int(a.fn(a) or 0)
    except BrokenPipeError:
        # the reader went away (`numa-hpe demo | head`): not an error of ours
        sys.stderr.close()
        return 0
    except OSError as e:
        print(f"numa-hpe: {e.strerror or e}", file=sys.stderr)
        return 1


def _prepared(a: argparse.Namespace) -> Machine:
    m = machine_from_args(a)
    for cmd in a.do:
        out: list[str] = []
        if run_command(m, cmd, out):
            raise OSError(1, "; ".join(out))
    return m


def _cat(m: Machine, path: str) -> int:
    sys.stdout.write(m.read(path))
    return 0


def _print_lines(lines: list[str]) -> int:
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
