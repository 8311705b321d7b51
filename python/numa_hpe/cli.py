"""``numa-hpe``: boot, inspect and replay emulated machines from the shell."""

from __future__ import annotations

import argparse
import importlib
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from .firmware import Firmware, default_firmware
from .errors import InvalidDescriptionError
from .machine import Machine, errno_name
from .replay import replay
from .script import Script, ScriptError, firmware_from_spec, run_script
from .show import render, summary
from .topology_io import parse_synthetic, qemu_args, to_synthetic

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
    version = getattr(a, "patchset", None)
    if getattr(a, "case", None):
        case = json.loads((Path(a.case) / "case.json").read_text())
        cmdline = a.cmdline if a.cmdline is not None else case.get("cmdline", "")
        return Machine(case["firmware"], cmdline, case.get("kernel_config") or "oracle",
                       version or case.get("patchset_version"))
    fw = firmware_from_args(a) or default_firmware()
    return Machine(fw, a.cmdline or "", a.kernel_config, version)


def firmware_from_args(a: argparse.Namespace) -> Firmware | None:
    """``--firmware FILE`` (JSON, or `qemu ...` spec text) / ``--topology`` / ``--sysfs ROOT``."""
    if getattr(a, "firmware", None):
        text = a.firmware
        if text.startswith("qemu"):
            return firmware_from_spec(text)
        return Firmware.from_json(Path(text).read_text())
    if getattr(a, "topology", None):
        return parse_synthetic(a.topology, mem_per_node=a.mem_per_node)
    if getattr(a, "sysfs", None):
        return Firmware.from_sysfs(a.sysfs)
    return None


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
    seen = m.dmesg_len()
    for cmd in DEMO_SESSION:
        out: list[str] = []
        print(f"# {cmd}")
        run_command(m, cmd, out)
        for line in out:
            print(line)
        new = m.dmesg(since=seen)
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


SWEEP_HELP = """\
Run a metric over a grid of firmware x command line x scenario configurations.

spec.toml:
  fn = "boot"              # built-in metric set (boot, memory) or "module:function"
  output = "boot.csv"      # optional: .csv, .json or .parquet
  [base]                   # keys every config shares
  firmware_args = { mem_per_node = "1G" }
  [axes]                   # every combination; dotted names nest into [base]
  firmware = ["node:1 package:1 core:4 pu:2", "node:4 package:1 core:4 pu:2"]
  cmdline = ["", "numa=possible=8"]
  [[configs]]              # extra single configs (merged onto [base])
  firmware = "node:2 core:2"
  firmware_args = { mem_per_node = "1G", maxmem = "8G", slots = 2 }
  scenario = ["add_memory 0x100000000 128M 1"]
  [run]                    # defaults for the options below
  executor = "process"     # process | thread | dask
  workers = 2

The spec's directory is put on sys.path, so `module:function` may name a file beside it;
the spec's `output` is relative to the spec's directory, -o to the current one.
"""


def cmd_sweep(a: argparse.Namespace) -> int:
    import concurrent.futures as cf
    import time
    import tomllib

    from .sweep import configs_from_spec, sweep

    spec_path = Path(a.spec)
    try:
        spec = tomllib.loads(spec_path.read_text())
        configs = configs_from_spec(spec)
    except (tomllib.TOMLDecodeError, ValueError) as e:
        raise SystemExit(f"numa-hpe: {spec_path}: {e}") from None
    run = spec.get("run") or {}
    sys.path.insert(0, str(spec_path.resolve().parent))
    fn = spec.get("fn", "boot")
    kind = a.executor or run.get("executor", "process")
    workers = a.workers or int(run.get("workers", 2))
    scheduler = a.scheduler or run.get("scheduler")
    output = a.output or (spec_path.parent / spec["output"] if spec.get("output") else None)
    chunksize = a.chunksize or run.get("chunksize")
    t0 = time.perf_counter()
    if kind == "dask":
        try:
            distributed: Any = importlib.import_module("distributed")
            Client, LocalCluster = distributed.Client, distributed.LocalCluster
        except ImportError:
            raise SystemExit("numa-hpe: the dask executor needs `pip install 'numa_hpe[sweep]'`")
        if scheduler:
            with Client(scheduler) as client:
                result = sweep(configs, fn, client, chunksize=chunksize, progress=a.progress)
        else:
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                result = sweep(configs, fn, client, chunksize=chunksize, progress=a.progress)
    else:
        pool = cf.ThreadPoolExecutor if kind == "thread" else cf.ProcessPoolExecutor
        with pool(max_workers=workers) as ex:
            result = sweep(configs, fn, ex, chunksize=chunksize, progress=a.progress)
    elapsed = time.perf_counter() - t0
    if output:
        result.save(output)
    else:
        sys.stdout.write(result.to_csv())
    print(f"numa-hpe: {len(result)} configs, {len(result.errors())} errors, {elapsed:.2f} s "
          f"({kind}, {workers} workers){f' -> {output}' if output else ''}", file=sys.stderr)
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
    return mount(m, a.dir, foreground=not a.background, bind_sys_cmd=a.command)


def cmd_run(a: argparse.Namespace) -> int:
    script = Script.load(a.script)
    fw = firmware_from_args(a)
    m = script.machine(firmware=fw, cmdline=a.cmdline, kernel_config=a.kernel_config,
                       patchset_version=a.patchset)
    if a.json:
        _, results, errors = run_script(script, m, keep_going=True)
        json.dump({"script": a.script, "results": [r.to_dict() for r in results],
                   "errors": [str(e) for e in errors]}, sys.stdout, indent=1)
        print()
        return 1 if errors else 0
    from .script import Runner, check

    runner = Runner(m)
    failed = 0
    seen = m.dmesg_len()
    for cmd in script.commands:
        if a.trace:
            print(f"+ {cmd.text}")
        try:
            res = runner.run(cmd.text, cmd.lineno)
        except ValueError as e:
            print(ScriptError(script.name, cmd.lineno, str(e)), file=sys.stderr)
            return 2
        for line in res.output:
            print(line)
        if res.status != "ok" and (a.trace or cmd.expect is None):
            note = " (expected)" if cmd.expect == res.status else ""
            print(f"{script.name}:{cmd.lineno}: {res.message} [{res.status}]{note}",
                  file=sys.stdout if a.trace else sys.stderr)
        if a.dmesg:
            new = m.dmesg(since=seen)
            seen += len(new)
            for line in new:
                print(f"[dmesg] {line}")
        problem = check(cmd, res)
        if problem:
            failed += 1
            print(ScriptError(script.name, cmd.lineno, f"{cmd.text}: {problem}"), file=sys.stderr)
            if not a.keep_going:
                return 1
    return 1 if failed else 0


def cmd_shell(a: argparse.Namespace) -> int:
    from .shell import run_shell

    return run_shell(_prepared(a), history=None if a.no_history else a.history)


def cmd_show(a: argparse.Namespace) -> int:
    s = summary(_prepared(a))
    if a.json:
        _dump(s)
    else:
        sys.stdout.write(render(s, ascii_only=a.ascii))
    return 0


def cmd_plot(a: argparse.Namespace) -> int:
    from .plot import KINDS

    if a.what == "sched" and a.case is None and "sched_verbose" not in (a.cmdline or ""):
        a.cmdline = f"{a.cmdline or ''} sched_verbose".strip()  # the attach lines are logged only then
    m = _prepared(a)
    if a.what == "sched":
        KINDS["sched"](m, a.output, cpu=a.cpu)
    else:
        KINDS[a.what](m, a.output)
    print(a.output)
    return 0


def cmd_firmware(a: argparse.Namespace) -> int:
    if a.case:
        fw = Firmware.from_case(a.case)
    else:
        fw = firmware_from_args(a) or default_firmware()
    if a.format == "json":
        text = json.dumps(fw.to_dict(), indent=1) + "\n"
    elif a.format == "synthetic":
        text = to_synthetic(fw) + "\n"
    else:
        text = " ".join(qemu_args(fw)) + "\n"
    if a.output and a.output != "-":
        Path(a.output).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


def cmd_qemu_args(a: argparse.Namespace) -> int:
    fw = Firmware.from_case(a.case) if a.case else (firmware_from_args(a) or default_firmware())
    args = qemu_args(fw)
    if a.json:
        _dump(args)
        return 0
    parts = ["qemu-system-x86_64", "-machine", "pc"] + args
    if a.cmdline:
        parts += ["-append", a.cmdline]
    print(" ".join(shlex.quote(p) for p in parts))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="numa-hpe", description=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)

    def firmware_opts(p: argparse.ArgumentParser) -> None:
        p.add_argument("--firmware", help="firmware JSON file, or `qemu key=value ...` / `qemu -smp ...`")
        p.add_argument("--case", help="an oracle case directory's firmware (and cmdline)")
        p.add_argument("--topology", help='hwloc synthetic topology, e.g. "numa:2(memory=2GB) core:4 pu:2"')
        p.add_argument("--mem-per-node", default="1G")
        p.add_argument("--sysfs", metavar="ROOT", help="import firmware facts from ROOT/sys (e.g. /)")

    def machine_opts(p: argparse.ArgumentParser, json_out: bool = True) -> None:
        firmware_opts(p)
        p.add_argument("--cmdline", default=None, help="kernel command line")
        p.add_argument("--kernel-config", default="numa_hpe", choices=["numa_hpe", "oracle"])
        p.add_argument("--patchset", default=None, metavar="VERSION", help="patchset version v3..v10")
        p.add_argument("--do", action="append", default=[], metavar="CMD",
                       help="run a script command (`echo X > PATH`, `firmware ...`) first (repeatable)")
        if json_out:
            p.add_argument("--json", action="store_true", help="machine-readable output")

    p = sub.add_parser("demo", help="replay the patchset's documented session on the default machine")
    p.set_defaults(fn=cmd_demo)
    p = sub.add_parser("boot", help="boot and print the kernel log (--json: log and machine summary)")
    machine_opts(p)
    p.set_defaults(fn=lambda a: _boot(_prepared(a), a.json))
    p = sub.add_parser("dmesg", help="print the kernel log")
    machine_opts(p)
    p.set_defaults(fn=lambda a: _lines(_prepared(a).dmesg(), a.json))
    p = sub.add_parser("cat", help="print a file")
    machine_opts(p)
    p.add_argument("path")
    p.set_defaults(fn=lambda a: _cat(_prepared(a), a.path, a.json))
    p = sub.add_parser("ls", help="list a directory")
    machine_opts(p)
    p.add_argument("path")
    p.set_defaults(fn=lambda a: _ls(_prepared(a), a.path, a.json))
    p = sub.add_parser("tree", help="print the file tree below a path")
    machine_opts(p, json_out=False)
    p.add_argument("path", nargs="?", default="/sys/devices/system")
    p.add_argument("--depth", type=int, default=2)
    p.set_defaults(fn=cmd_tree)
    p = sub.add_parser("sweep", help="run a metric over a grid of configurations (TOML spec)",
                       description=SWEEP_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("spec", help="TOML spec file")
    p.add_argument("-o", "--output", help="output file: .csv, .json or .parquet (default: the "
                   "spec's `output`, else CSV on stdout)")
    p.add_argument("--executor", choices=["process", "thread", "dask"], default=None)
    p.add_argument("--workers", type=int, default=None, help="local workers (default 2)")
    p.add_argument("--scheduler", default=None,
                   help="dask scheduler address (default: a LocalCluster of --workers processes)")
    p.add_argument("--chunksize", type=int, default=None, help="configs per task")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar on stderr (default: only when stderr is a terminal)")
    p.set_defaults(fn=cmd_sweep)
    p = sub.add_parser("export", help="write /sys and /proc as files for lscpu/lsmem/lstopo --sysroot")
    machine_opts(p, json_out=False)
    p.add_argument("dir")
    p.add_argument("--force", action="store_true", help="replace sys/ and proc/ of a non-empty DIR")
    p.add_argument("--threads", type=int, default=None, help="worker threads (default: CPUs, at most 4)")
    p.set_defaults(fn=cmd_export)
    p = sub.add_parser("mount", help="mount the live tree with FUSE (reads and writes reach the emulator)")
    machine_opts(p, json_out=False)
    p.add_argument("dir")
    p.add_argument("--background", action="store_true",
                   help="return once mounted; unmount with `umount DIR` (default: serve until unmounted or ^C)")
    p.add_argument("--bind-sys", action="store_true",
                   help="`... --bind-sys -- COMMAND ARGS...`: run COMMAND in a private mount namespace with "
                        "the mounted /sys/devices/system/{cpu,memory,node} bind-mounted over the real ones "
                        "(chmem, numactl; needs root), then unmount and exit with its status")
    p.set_defaults(fn=cmd_mount)
    mount_p = p
    p = sub.add_parser("replay", help="replay an oracle case into OUT_DIR (compare.py input)")
    p.add_argument("case_dir")
    p.add_argument("-o", "--out", required=True)
    p.set_defaults(fn=lambda a: (replay(a.case_dir, a.out), 0)[1])
    p = sub.add_parser("run", help="run a scenario script (see numa_hpe.script)")
    p.add_argument("script")
    machine_opts(p)
    p.add_argument("-x", "--trace", action="store_true", help="print each command before its output")
    p.add_argument("--dmesg", action="store_true", help="print new kernel log lines after each command")
    p.add_argument("-k", "--keep-going", action="store_true", help="do not stop at the first mismatch")
    p.set_defaults(fn=cmd_run)
    p = sub.add_parser("shell", help="interactive prompt (path completion, history)")
    machine_opts(p, json_out=False)
    p.add_argument("--history", default="~/.numa_hpe_history")
    p.add_argument("--no-history", action="store_true")
    p.set_defaults(fn=cmd_shell)
    p = sub.add_parser("show", help="lstopo-like tree: nodes, packages, cores, CPUs, memory")
    machine_opts(p)
    p.add_argument("--ascii", action="store_true", help="ASCII instead of box-drawing characters")
    p.set_defaults(fn=cmd_show)
    p = sub.add_parser("plot", help="PNG/SVG of the distances, the memory map or a CPU's sched domains")
    p.add_argument("what", choices=["distances", "memory", "sched"])
    p.add_argument("-o", "--output", required=True, help="output file (.png, .svg, .pdf)")
    p.add_argument("--cpu", type=int, default=0, help="CPU for `sched`")
    machine_opts(p, json_out=False)
    p.set_defaults(fn=cmd_plot)
    p = sub.add_parser("firmware", help="write a firmware description (JSON, synthetic or QEMU args)")
    firmware_opts(p)
    p.add_argument("--format", choices=["json", "synthetic", "qemu"], default="json")
    p.add_argument("-o", "--output", help="output file (default stdout)")
    p.set_defaults(fn=cmd_firmware)
    p = sub.add_parser("qemu-args", help="the QEMU command line that builds the same topology")
    firmware_opts(p)
    p.add_argument("--cmdline", default=None, help="kernel command line for -append")
    p.add_argument("--json", action="store_true", help="the options as a JSON list")
    p.set_defaults(fn=cmd_qemu_args)
    argv = list(sys.argv[1:] if argv is None else argv)
    command: list[str] = []
    if argv[:1] == ["mount"] and "--" in argv:  # `mount DIR --bind-sys -- COMMAND ARGS...`
        i = argv.index("--")
        argv, command = argv[:i], argv[i + 1:]
    a = ap.parse_args(argv)
    a.command = command
    if a.cmd == "mount" and a.bind_sys != bool(a.command):
        mount_p.error("--bind-sys needs a command after `--`, and a command needs --bind-sys")
    try:
        return int(a.fn(a) or 0)
    except BrokenPipeError:
        # the reader went away (`numa-hpe demo | head`): not an error of ours
        sys.stderr.close()
        return 0
    except (ScriptError, InvalidDescriptionError) as e:
        print(f"numa-hpe: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"numa-hpe: {e.strerror or e}", file=sys.stderr)
        return 1


def _prepared(a: argparse.Namespace) -> Machine:
    m = machine_from_args(a)
    if a.do:
        from .script import Runner

        runner = Runner(m)
        for cmd in a.do:
            try:
                res = runner.run(cmd)
            except ValueError as e:
                raise ScriptError("--do", 0, str(e)) from None
            if res.status != "ok":
                raise OSError(1, f"{cmd}: {res.message} [{res.status}]")
    return m


def _dump(obj: object) -> None:
    json.dump(obj, sys.stdout, indent=1)
    sys.stdout.write("\n")


def _cat(m: Machine, path: str, as_json: bool = False) -> int:
    data = m.read(path)
    if as_json:
        _dump({"path": path, "data": data})
    else:
        sys.stdout.write(data)
    return 0


def _ls(m: Machine, path: str, as_json: bool = False) -> int:
    names = m.listdir(path)
    if as_json:
        entries = []
        for n in names:
            full = f"{path.rstrip('/')}/{n}"
            kind = m.stat(full)
            e = {"name": n, "type": kind}
            if kind == "link":
                e["target"] = m.readlink(full)
            entries.append(e)
        _dump({"path": path, "entries": entries})
        return 0
    return _print_lines(names)


def _lines(lines: list[str], as_json: bool = False) -> int:
    if as_json:
        _dump(lines)
        return 0
    return _print_lines(lines)


def _boot(m: Machine, as_json: bool) -> int:
    if as_json:
        _dump({"cmdline": m.cmdline, "kernel_config": m.kernel_config, "summary": summary(m),
               "dmesg": m.dmesg()})
        return 0
    return _print_lines(m.dmesg())


def _print_lines(lines: list[str]) -> int:
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
