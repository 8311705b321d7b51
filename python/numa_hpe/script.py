"""Scenario scripts: a small shell-like language to drive an emulated machine.

One command a line::

    # boot: mem=2G numa=possible=4                  header: kernel command line
    # firmware: qemu sockets=1 cores=4 mem=4G       header: the machine (see below)
    echo 128M@0x80000000 > /sys/kernel/debug/mem_hotplug/add_node
    cat /sys/devices/system/node/online
    # expect: EINVAL                                the next command must fail with EINVAL
    echo bogus > /sys/devices/system/memory/memory0/state
    firmware add_memory 0x100000000 1G pxm=2        ACPI memory device insert

Commands
    ``echo [-n] WORDS... > PATH`` (``>>`` is the same: sysfs has no append), ``cat PATH...``,
    ``ls [PATH]``, ``readlink PATH``, ``dmesg [-c]`` (``-c``: only lines since the last
    ``dmesg -c``), ``firmware add_memory START SIZE [pxm=P]``, ``firmware remove_memory START
    SIZE``, ``firmware add_cpu APIC_ID [pxm=P]``, ``firmware remove_cpu APIC_ID``. Words are
    split like a POSIX shell (``shlex``); numbers take ``0x`` and K/M/G/T suffixes.
Annotations (apply to the next command)
    ``# expect: ok`` / ``# expect: EINVAL`` (any errno name; firmware refusals that carry no
    errno are ``rejected``), ``# output: TEXT`` (the command's output, one line; repeat the
    annotation for several lines).
Headers (comment lines ``# key: value`` before the first command)
    ``boot`` (kernel command line), ``firmware`` (``qemu key=value ...`` with ``Firmware.qemu``
    keywords, ``qemu -smp ... -m ...`` with QEMU options, or a JSON file relative to the
    script), ``topology`` (an hwloc synthetic string, :func:`numa_hpe.topology_io.parse_synthetic`),
    ``case`` (an oracle case directory: its firmware, command line and kernel config),
    ``kernel-config`` (``numa_hpe``/``oracle``), ``patchset`` (``v3`` .. ``v10``).
"""

from __future__ import annotations

import errno as _errno
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import HpeError
from .firmware import Firmware, parse_size
from .machine import Machine, errno_name

HEADER_KEYS = ("boot", "firmware", "topology", "case", "kernel-config", "patchset")
_HEADER = re.compile(r"#\s*([a-z-]+):\s*(.*?)\s*$")


class ScriptError(HpeError):
    """A script line that cannot run or whose outcome differs from its ``# expect:``.

    ``str()`` is ``file:line: message``, the way compilers point at a line.
    """

    def __init__(self, where: str, lineno: int, message: str) -> None:
        super().__init__(f"{where}:{lineno}: {message}")
        self.where, self.lineno, self.message = where, lineno, message


@dataclass
class Command:
    """One parsed script line."""

    lineno: int
    text: str
    expect: str | None = None  #: "ok", an errno name, or None (= ok)
    output: list[str] | None = None  #: expected output lines


@dataclass
class Script:
    """A parsed scenario script: header values and commands."""

    name: str
    header: dict[str, str] = field(default_factory=dict)
    commands: list[Command] = field(default_factory=list)
    base: Path = Path(".")

    @classmethod
    def parse(cls, text: str, name: str = "<script>", base: Path | None = None) -> Script:
        s = cls(name, base=base or Path("."))
        expect: str | None = None
        output: list[str] | None = None
        expect_line = 0
        for lineno, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("#"):
                m = _HEADER.fullmatch(line)
                if not m:
                    continue
                key, value = m.group(1), m.group(2)
                if key == "expect":
                    expect, expect_line = _expect_value(value, name, lineno), lineno
                elif key == "output":
                    output = (output or []) + [value]
                    expect_line = expect_line or lineno
                elif key in HEADER_KEYS and not s.commands:
                    s.header[key] = value
                continue
            s.commands.append(Command(lineno, line, expect, output))
            expect, output, expect_line = None, None, 0
        if expect is not None or output is not None:
            raise ScriptError(name, expect_line, "annotation is not followed by a command")
        return s

    @classmethod
    def load(cls, path: str | Path) -> Script:
        p = Path(path)
        return cls.parse(p.read_text(), str(path), p.parent)

    def machine(self, **override: Any) -> Machine:
        """Boot the machine the header describes; keyword arguments (``cmdline``,
        ``firmware``, ``kernel_config``, ``patchset_version``) win over the header."""
        h = self.header
        cmdline = h.get("boot", "")
        kernel_config = h.get("kernel-config", "numa_hpe")
        fw: Firmware | dict[str, Any] | None = None
        try:
            if "case" in h:
                import json

                case = json.loads((self.base / h["case"] / "case.json").read_text())
                fw = case["firmware"]
                cmdline = h.get("boot", case.get("cmdline", ""))
                kernel_config = h.get("kernel-config", case.get("kernel_config") or "oracle")
            elif "firmware" in h:
                fw = firmware_from_spec(h["firmware"], self.base)
            elif "topology" in h:
                from .topology_io import parse_synthetic

                fw = parse_synthetic(h["topology"])
        except (OSError, ValueError, KeyError) as e:
            raise ScriptError(self.name, 1, f"header: {e}") from None
        if override.get("firmware") is not None:
            fw = override["firmware"]
        if override.get("cmdline") is not None:
            cmdline = override["cmdline"]
        kernel_config = override.get("kernel_config") or kernel_config
        version = override.get("patchset_version") or h.get("patchset")
        return Machine(fw, cmdline, kernel_config, version)


def _expect_value(value: str, name: str, lineno: int) -> str:
    v = value.split()[0] if value.split() else ""
    if v.lower() in ("ok", "0", "success"):
        return "ok"
    if v == "rejected" or v in _errno.errorcode.values():
        return v
    raise ScriptError(name, lineno, f"expect: unknown outcome `{value}` (ok, rejected or an errno name)")


def firmware_from_spec(spec: str, base: Path = Path(".")) -> Firmware:
    """``qemu key=value ...``, ``qemu -smp ...`` or a JSON file path -> Firmware."""
    words = shlex.split(spec)
    if not words:
        raise ValueError("firmware: empty description")
    if words[0] != "qemu":
        return Firmware.from_json((base / spec).read_text())
    if len(words) > 1 and words[1].startswith("-"):
        from .topology_io import parse_qemu_args

        return Firmware.qemu(**parse_qemu_args(words[1:]))
    kw: dict[str, Any] = {}
    for w in words[1:]:
        key, sep, val = w.partition("=")
        if not sep:
            raise ValueError(f"firmware: expected key=value, got `{w}`")
        if key in ("sockets", "dies", "cores", "threads", "cpus", "slots"):
            kw[key] = int(val)
        elif key in ("mem", "maxmem"):
            kw[key] = val
        elif key == "node_mem":
            kw[key] = val.split(",")
        elif key == "node_cpus":  # node_cpus=0-1/2-3: slot lists per node, `/` between nodes
            kw[key] = [_cpus(part) for part in val.split("/")]
        else:
            raise ValueError(f"firmware: unknown qemu keyword `{key}`")
    return Firmware.qemu(**kw)


def _cpus(text: str) -> list[int]:
    out: list[int] = []
    for part in filter(None, text.split(",")):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def parse_number(text: str) -> int:
    """``0x100000000``, ``4294967296``, ``1G`` -> int."""
    try:
        return int(text, 0)
    except ValueError:
        return parse_size(text)


@dataclass
class Result:
    """What one command did: ``status`` is ``"ok"`` or an errno name."""

    lineno: int
    command: str
    status: str
    output: list[str]
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.lineno, "command": self.command, "status": self.status,
                "output": self.output, "message": self.message}


class Runner:
    """Runs commands of the script language on one machine (also used by the shell)."""

    def __init__(self, machine: Machine) -> None:
        self.m = machine
        self.dmesg_mark = 0

    def run(self, text: str, lineno: int = 0) -> Result:
        """Run one command line; failures of the machine become a non-"ok" status, syntax
        errors raise ValueError."""
        try:
            words = shlex.split(text, comments=True)
        except ValueError as e:
            raise ValueError(f"syntax: {e}") from None
        if not words:
            return Result(lineno, text, "ok", [])
        cmd, args = words[0], words[1:]
        fn = getattr(self, f"_do_{cmd}", None)
        if fn is None:
            raise ValueError(f"unknown command `{cmd}` (echo, cat, ls, readlink, dmesg, firmware)")
        try:
            out = fn(args)
            return Result(lineno, text, "ok", out)
        except OSError as e:
            name = errno_name(e) if e.errno else "rejected"
            return Result(lineno, text, name, [], f"{cmd}: {e.strerror or e}")

    # -- commands ---------------------------------------------------------------------------
    def _do_echo(self, args: list[str]) -> list[str]:
        newline = "\n"
        if args and args[0] == "-n":
            newline, args = "", args[1:]
        redir = [i for i, a in enumerate(args) if a in (">", ">>") or a.startswith(">")]
        if not redir:
            return [" ".join(args)]
        i = redir[-1]
        tok = args[i]
        if tok in (">", ">>"):
            if i + 1 != len(args) - 1:
                raise ValueError("echo: expected `echo [-n] WORDS > PATH`")
            path = args[i + 1]
        else:
            if i != len(args) - 1:
                raise ValueError("echo: expected `echo [-n] WORDS > PATH`")
            path = tok.lstrip(">")
        self.m.write(path, " ".join(args[:i]) + newline)
        return []

    def _do_cat(self, args: list[str]) -> list[str]:
        if not args:
            raise ValueError("cat: expected a PATH")
        out: list[str] = []
        for p in args:
            out.extend(self.m.read(p).splitlines())
        return out

    def _do_ls(self, args: list[str]) -> list[str]:
        path = args[0] if args else "/"
        if self.m.stat(path) is None:
            raise OSError(_errno.ENOENT, "No such file or directory", path)
        if self.m.stat(path) != "dir":
            return [path]
        return list(self.m.listdir(path))

    def _do_readlink(self, args: list[str]) -> list[str]:
        if len(args) != 1:
            raise ValueError("readlink: expected one PATH")
        return [self.m.readlink(args[0])]

    def _do_dmesg(self, args: list[str]) -> list[str]:
        if args == ["-c"]:
            new = self.m.dmesg(since=self.dmesg_mark)
            self.dmesg_mark += len(new)
            return new
        if args:
            raise ValueError("dmesg: only `-c` is supported")
        return self.m.dmesg()

    def _do_firmware(self, args: list[str]) -> list[str]:
        if not args:
            raise ValueError("firmware: expected add_memory, remove_memory, add_cpu or remove_cpu")
        event, rest = args[0], args[1:]
        pos = [a for a in rest if "=" not in a]
        kw = dict(a.split("=", 1) for a in rest if "=" in a)
        if set(kw) - {"pxm"}:
            raise ValueError(f"firmware {event}: unknown option `{sorted(set(kw) - {'pxm'})[0]}`")
        pxm = int(kw["pxm"], 0) if "pxm" in kw else None
        want = {"add_memory": 2, "remove_memory": 2, "add_cpu": 1, "remove_cpu": 1}
        if event not in want:
            raise ValueError(f"firmware: unknown event `{event}`")
        if len(pos) != want[event] or (pxm is not None and event.startswith("remove")):
            usage = {"add_memory": "START SIZE [pxm=P]", "remove_memory": "START SIZE",
                     "add_cpu": "APIC_ID [pxm=P]", "remove_cpu": "APIC_ID"}[event]
            raise ValueError(f"firmware {event}: expected `firmware {event} {usage}`")
        nums = [parse_number(p) for p in pos]
        # the ACPI fields are u64 addresses and u32 ids: out-of-range numbers are a script
        # error, not an OverflowError from the binding
        bits = 64 if event.endswith("memory") else 32
        for v in nums:
            if not 0 <= v < 1 << bits:
                raise ValueError(f"firmware {event}: {v:#x} does not fit {bits} bits")
        if pxm is not None and not 0 <= pxm < 1 << 32:
            raise ValueError(f"firmware {event}: pxm {pxm} does not fit 32 bits")
        if event == "add_memory":
            return [f"node {self.m.add_memory(nums[0], nums[1], pxm)}"]
        if event == "remove_memory":
            self.m.remove_memory(nums[0], nums[1])
            return []
        if event == "add_cpu":
            return [f"cpu {self.m.add_cpu(nums[0], pxm)}"]
        self.m.remove_cpu(nums[0])
        return []


def check(cmd: Command, res: Result) -> str | None:
    """The mismatch between a command's annotations and its result, or None."""
    want = cmd.expect or "ok"
    if res.status != want:
        got = "ok" if res.status == "ok" else f"{res.status} ({res.message})"
        return f"expected {want}, got {got}"
    if cmd.output is not None and res.output != cmd.output:
        return f"expected output {cmd.output!r}, got {res.output!r}"
    return None


def run_script(
    script: Script, machine: Machine | None = None, *, keep_going: bool = False
) -> tuple[Machine, list[Result], list[ScriptError]]:
    """Run every command; returns the machine, the results and the mismatches.

    Without ``keep_going`` the first mismatch or syntax error raises :class:`ScriptError`.
    """
    m = machine if machine is not None else script.machine()
    runner = Runner(m)
    results: list[Result] = []
    errors: list[ScriptError] = []
    for cmd in script.commands:
        try:
            res = runner.run(cmd.text, cmd.lineno)
        except ValueError as e:
            err = ScriptError(script.name, cmd.lineno, str(e))
            if not keep_going:
                raise err from None
            errors.append(err)
            continue
        results.append(res)
        problem = check(cmd, res)
        if problem:
            err = ScriptError(script.name, cmd.lineno, f"{cmd.text}: {problem}")
            if not keep_going:
                raise err
            errors.append(err)
    return m, results, errors
