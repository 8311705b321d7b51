"""``numa-hpe shell``: an interactive prompt over an emulated machine.

Same command language as scenario scripts (:mod:`numa_hpe.script`), plus ``show`` (the
machine tree), ``help`` and ``exit``. Tab completes command names and paths of the emulated
tree; history is kept with readline (in ``~/.numa_hpe_history`` unless ``history=None``).
Reading from a pipe, no prompt is printed, like ``sh`` without a terminal.
"""

from __future__ import annotations

import cmd
import os
import sys
from typing import IO, Any

from .machine import Machine
from .script import Runner

COMMANDS = ["echo", "cat", "ls", "readlink", "dmesg", "firmware", "show", "help", "exit"]
FIRMWARE_EVENTS = ["add_memory", "remove_memory", "add_cpu", "remove_cpu"]


class Shell(cmd.Cmd):
    intro: str | None = ("numa-hpe shell: echo X > PATH, cat PATH, ls PATH, readlink, dmesg [-c], "
             "firmware EVENT ..., show; Tab completes paths; exit or Ctrl-D to leave")

    def __init__(self, machine: Machine, stdin: IO[str] | None = None, stdout: IO[str] | None = None,
                 interactive: bool | None = None) -> None:
        super().__init__(stdin=stdin, stdout=stdout)
        self.m = machine
        self.runner = Runner(machine)
        self.interactive = (stdin or sys.stdin).isatty() if interactive is None else interactive
        self.use_rawinput = self.interactive
        self.prompt = "numa-hpe# " if self.interactive else ""
        if not self.interactive:
            self.intro = None
        self.failures = 0

    # -- running --------------------------------------------------------------------------
    def emptyline(self) -> bool:
        return False

    def default(self, line: str) -> bool:  # type: ignore[override]  # onecmd returns it
        if line.lstrip().startswith("#"):
            return False
        try:
            res = self.runner.run(line)
        except ValueError as e:
            self.failures += 1
            print(f"numa-hpe: {e}", file=sys.stderr)
            return False
        for out in res.output:
            print(out, file=self.stdout)
        if res.status != "ok":
            self.failures += 1
            print(f"{res.message} [{res.status}]", file=sys.stderr)
        return False

    def do_show(self, arg: str) -> bool:
        """show: the machine as a tree (nodes, packages, cores, CPUs, memory ranges)"""
        from .show import render, summary

        self.stdout.write(render(summary(self.m)))
        return False

    def do_exit(self, arg: str) -> bool:
        """exit: leave the shell"""
        return True

    do_quit = do_exit

    def do_EOF(self, arg: str) -> bool:  # noqa: N802 - cmd's name for end of input
        if self.interactive:
            print(file=self.stdout)
        return True

    # -- completion -----------------------------------------------------------------------
    def complete_path(self, text: str) -> list[str]:
        """Entries of the emulated tree that complete ``text`` (directories end in ``/``)."""
        if not text.startswith("/"):
            return []
        head, _, tail = text.rpartition("/")
        parent = head or "/"
        if self.m.stat(parent) != "dir":
            return []
        out = []
        for name in self.m.listdir(parent):
            if name.startswith(tail):
                full = f"{head}/{name}"
                out.append(full + "/" if self.m.stat(full) == "dir" else full)
        return sorted(out)

    def completenames(self, text: str, *ignored: Any) -> list[str]:
        return [c for c in COMMANDS if c.startswith(text)]

    def completedefault(self, text: str, line: str, begidx: int, endidx: int) -> list[str]:
        words = line[:begidx].split()
        if words and words[0] == "firmware" and len(words) == 1:
            return [e for e in FIRMWARE_EVENTS if e.startswith(text)]
        if text.startswith(">"):
            return [">" + p for p in self.complete_path(text[1:])]
        return self.complete_path(text)

    def complete(self, text: str, state: int) -> str | None:  # type: ignore[override]  # typeshed is wrong
        # cmd.Cmd only calls completedefault for unknown commands: route every word here
        if state == 0:
            import readline

            line = readline.get_line_buffer()
            beg, end = readline.get_begidx(), readline.get_endidx()
            if not line[:beg].strip():
                self.completion_matches = self.completenames(text)
            else:
                self.completion_matches = self.completedefault(text, line, beg, end)
        try:
            return list(self.completion_matches or [])[state]
        except IndexError:
            return None


def run_shell(machine: Machine, history: str | None = "~/.numa_hpe_history") -> int:
    """Run the prompt on stdin/stdout; returns 0, or 1 when a command failed (piped input)."""
    sh = Shell(machine)
    hist = os.path.expanduser(history) if history and sh.interactive else None
    if sh.interactive:
        try:
            import readline

            readline.set_completer_delims(" \t\n")
            if hist and os.path.exists(hist):
                readline.read_history_file(hist)
        except (ImportError, OSError):
            pass
    try:
        sh.cmdloop()
    except KeyboardInterrupt:
        print(file=sys.stdout)
    finally:
        if hist:
            try:
                import readline

                readline.set_history_length(1000)
                readline.write_history_file(hist)
            except (ImportError, OSError):
                pass
    return 1 if sh.failures and not sh.interactive else 0
