"""A small busybox-sh subset for the oracle's ``shell`` steps (FORMAT.md): the commands the
converter could not split into writes and reads. Supported: ``;`` ``&&`` ``||`` ``|``,
``for V in ...; do ...; done``, ``if ...; then ...; [else ...;] fi``, ``[``/``test``,
``echo [-n]``, ``cat``, ``ls``, ``seq``, ``grep [-c|-q|-v]``, ``wc -l``, ``head -n``, ``tr``,
``true``/``false``, redirections ``>`` ``>>`` ``2>/dev/null``, ``$VAR``, ``$(...)`` and path globs
over the emulated tree. A write error prints ``sh: write error: <strerror>`` as busybox does."""

from __future__ import annotations

import fnmatch
import os
import re
import shlex
from typing import Callable

from .machine import Machine

_STRERROR = {e: os.strerror(e) for e in range(1, 134)}


class _Exit(Exception):
    pass


class MiniSh:
    """Run sh text against a machine; returns (rc, stdout)."""

    def __init__(self, m: Machine) -> None:
        self.m = m
        self.vars: dict[str, str] = {}
        self.out: list[str] = []
        self.last_rc = 0

    # -- expansion -----------------------------------------------------------------------
    def _subst(self, text: str) -> str:
        def cmdsub(mt: re.Match[str]) -> str:
            sub = MiniSh(self.m)
            sub.vars = dict(self.vars)
            _, out = sub.run(mt.group(1))
            return out.rstrip("\n")

        text = re.sub(r"\$\(([^()]*)\)", cmdsub, text)
        text = text.replace("$?", str(self.last_rc))
        text = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda mt: self.vars.get(mt.group(1) or mt.group(2), ""), text)
        return text

    def _glob(self, word: str) -> list[str]:
        if not any(c in word for c in "*?[") or not word.startswith("/"):
            return [word]
        parts = word.strip("/").split("/")
        paths = ["/"]
        for p in parts:
            nxt = []
            for base in paths:
                if any(c in p for c in "*?["):
                    try:
                        names = self.m.listdir(base)
                    except OSError:
                        continue
                    nxt += [base.rstrip("/") + "/" + n for n in names if fnmatch.fnmatchcase(n, p)]
                else:
                    cand = base.rstrip("/") + "/" + p
                    if self.m.exists(cand):
                        nxt.append(cand)
            paths = nxt
        return sorted(paths) or [word]

    def _words(self, text: str) -> list[str]:
        out: list[str] = []
        lex = shlex.shlex(self._subst(text), posix=True, punctuation_chars="<>")
        lex.whitespace_split = True
        for w in lex:
            out.extend(self._glob(w))
        return out

    # -- parsing -------------------------------------------------------------------------
    @staticmethod
    def _split_top(text: str, seps: tuple[str, ...]) -> list[tuple[str, str]]:
        """Split on separators outside quotes and $( ); returns (chunk, separator-before)."""
        out, cur, depth, quote, prev = [], [], 0, "", ""
        i = 0
        while i < len(text):
            c = text[i]
            if quote:
                cur.append(c)
                if c == quote:
                    quote = ""
            elif c in "'\"":
                quote = c
                cur.append(c)
            elif text.startswith("$(", i):
                depth += 1
                cur.append("$(")
                i += 2
                continue
            elif c == ")" and depth:
                depth -= 1
                cur.append(c)
            elif depth == 0 and any(text.startswith(s, i) for s in seps):
                s = next(s for s in seps if text.startswith(s, i))
                out.append(("".join(cur), prev))
                cur, prev = [], s
                i += len(s)
                continue
            else:
                cur.append(c)
            i += 1
        out.append(("".join(cur), prev))
        return out

    def run(self, text: str) -> tuple[int, str]:
        self.out = []
        try:
            rc = self._list(text.replace("\n", ";"))
        except _Exit as e:
            rc = int(str(e) or 0)
        return rc, "".join(self.out)

    def _list(self, text: str) -> int:
        # compound commands first (for/if span several ';' chunks)
        stmts = self._statements(text)
        rc = 0
        for st in stmts:
            rc = self._andor(st)
            self.last_rc = rc
        return rc

    def _statements(self, text: str) -> list[str]:
        chunks = [c.strip() for c, _ in self._split_top(text, (";",))]
        stmts: list[str] = []
        buf: list[str] = []
        depth = 0
        for c in chunks:
            if not c and not buf:
                continue
            head = c.split(None, 1)[0] if c else ""
            if head in ("for", "if", "while"):
                depth += 1
            if head in ("done", "fi"):
                depth -= 1
            buf.append(c)
            if depth == 0:
                stmts.append(";".join(buf))
                buf = []
        if buf:
            stmts.append(";".join(buf))
        return stmts

    def _andor(self, text: str) -> int:
        text = text.strip()
        if text.startswith("for "):
            return self._for(text)
        if text.startswith("if "):
            return self._if(text)
        rc = 0
        for chunk, sep in self._split_top(text, ("&&", "||")):
            if sep == "&&" and rc != 0 or sep == "||" and rc == 0:
                continue
            rc = self._pipeline(chunk)
        return rc

    def _for(self, text: str) -> int:
        mt = re.match(r"for\s+(\w+)\s+in\s+(.*?);\s*do\s*;?(.*);\s*done\b(.*)$", text, re.S)
        if not mt:
            raise ValueError(f"unsupported for loop: {text!r}")
        tail = mt.group(4).strip()
        saved = self.out
        self.out = []
        rc = 0
        for w in self._words(mt.group(2)):
            self.vars[mt.group(1)] = w
            rc = self._list(mt.group(3))
        produced = "".join(self.out)
        self.out = saved
        if tail.startswith("|"):
            # `for ...; done | cmd`: the loop's output feeds the rest of the pipeline
            stages = [c for c, _ in self._split_top(tail[1:], ("|",))]
            data = produced
            for st in stages:
                inner = self.out
                self.out = []
                rc = self._simple(st, data)
                data = "".join(self.out)
                self.out = inner
            self.out.append(data)
            return rc
        self.out.append(produced)
        return rc

    def _if(self, text: str) -> int:
        mt = re.match(r"if\s+(.*?);\s*then\s*;?(.*?)(?:;\s*else\s*;?(.*))?;\s*fi\s*$", text, re.S)
        if not mt:
            raise ValueError(f"unsupported if: {text!r}")
        if self._list(mt.group(1)) == 0:
            return self._list(mt.group(2))
        return self._list(mt.group(3)) if mt.group(3) else 0

    def _pipeline(self, text: str) -> int:
        stages = [c for c, _ in self._split_top(text, ("|",))]
        data: str | None = None
        rc = 0
        for i, st in enumerate(stages):
            saved = self.out
            self.out = []
            rc = self._simple(st, data)
            produced = "".join(self.out)
            self.out = saved
            if i == len(stages) - 1:
                self.out.append(produced)
            data = produced
        return rc

    # -- commands ------------------------------------------------------------------------
    def _simple(self, text: str, stdin: str | None) -> int:
        words = self._words(text)
        redirect, append, args = None, False, []
        it = iter(range(len(words)))
        for i in it:
            w = words[i]
            if w in (">", ">>") and i + 1 < len(words):
                redirect, append = words[i + 1], w == ">>"
                next(it, None)
            elif w.startswith("2>"):
                if w == "2>" or w == "2>>":
                    next(it, None)
            elif w == "<" and i + 1 < len(words):
                stdin = self.m.read(words[i + 1])
                next(it, None)
            else:
                args.append(w)
        while args and re.match(r"^[A-Za-z_]\w*=", args[0]):
            name, _, value = args.pop(0).partition("=")
            self.vars[name] = value
        if not args:
            return 0
        cmd, rest = args[0], args[1:]
        if redirect is not None:
            saved = self.out
            self.out = []
            rc = self._builtin(cmd, rest, stdin)
            data = "".join(self.out)
            self.out = saved
            if rc != 0:
                return rc
            if redirect == "/dev/null":
                return 0
            try:
                self.m.write(redirect, data)
                return 0
            except OSError as e:
                # busybox echo: the error goes to stderr, which steps do not record
                _ = _STRERROR.get(e.errno or 0, str(e))
                return 1
        return self._builtin(cmd, rest, stdin)

    def _builtin(self, cmd: str, a: list[str], stdin: str | None) -> int:
        table: dict[str, Callable[[list[str], str | None], int]] = {
            "echo": self._echo, "cat": self._cat, "ls": self._ls, "seq": self._seq,
            "grep": self._grep, "wc": self._wc, "head": self._head, "tr": self._tr,
            "test": self._test, "[": self._test, "true": lambda a, s: 0, "false": lambda a, s: 1,
            "exit": self._exit, "readlink": self._readlink,
        }
        fn = table.get(cmd)
        if fn is None:
            return 127
        return fn(a, stdin)

    def _exit(self, a: list[str], stdin: str | None) -> int:
        raise _Exit(a[0] if a else "0")

    def _echo(self, a: list[str], stdin: str | None) -> int:
        nl = "\n"
        if a and a[0] == "-n":
            nl, a = "", a[1:]
        self.out.append(" ".join(a) + nl)
        return 0

    def _cat(self, a: list[str], stdin: str | None) -> int:
        if not a:
            self.out.append(stdin or "")
            return 0
        rc = 0
        for p in a:
            try:
                self.out.append(self.m.read(p))
            except OSError:
                rc = 1
        return rc

    def _readlink(self, a: list[str], stdin: str | None) -> int:
        try:
            self.out.append(self.m.readlink(a[-1]) + "\n")
            return 0
        except (OSError, IndexError):
            return 1

    def _ls(self, a: list[str], stdin: str | None) -> int:
        paths = [p for p in a if not p.startswith("-")] or ["/"]
        rc = 0
        for p in paths:
            kind = self.m.stat(p)
            if kind is None:
                rc = 1
            elif kind == "dir":
                self.out.append("".join(n + "\n" for n in self.m.listdir(p)))
            else:
                self.out.append(p + "\n")
        return rc

    def _seq(self, a: list[str], stdin: str | None) -> int:
        nums = [int(x) for x in a]
        lo, hi = (1, nums[0]) if len(nums) == 1 else (nums[0], nums[-1])
        step = nums[1] if len(nums) == 3 else 1
        self.out.append("".join(f"{i}\n" for i in range(lo, hi + 1, step)))
        return 0

    def _lines(self, a: list[str], stdin: str | None) -> list[str]:
        files = [p for p in a if p.startswith("/")]
        text = "".join(self.m.read(p) for p in files) if files else (stdin or "")
        return text.splitlines(keepends=True)

    def _grep(self, a: list[str], stdin: str | None) -> int:
        flags = {x for x in a if x.startswith("-")}
        rest = [x for x in a if not x.startswith("-")]
        if not rest:
            return 2
        pat, files = rest[0], rest[1:]
        lines = self._lines(files, stdin)
        hits = [ln for ln in lines if (re.search(pat, ln) is not None) != ("-v" in flags)]
        if "-c" in flags:
            self.out.append(f"{len(hits)}\n")
        elif "-q" not in flags:
            self.out.append("".join(hits))
        return 0 if hits else 1

    def _wc(self, a: list[str], stdin: str | None) -> int:
        lines = self._lines([x for x in a if not x.startswith("-")], stdin)
        self.out.append(f"{len(lines)}\n")
        return 0

    def _head(self, a: list[str], stdin: str | None) -> int:
        n = 10
        if "-n" in a:
            n = int(a[a.index("-n") + 1])
        elif a and a[0].startswith("-") and a[0][1:].isdigit():
            n = int(a[0][1:])
        self.out.append("".join(self._lines([x for x in a if x.startswith("/")], stdin)[:n]))
        return 0

    def _tr(self, a: list[str], stdin: str | None) -> int:
        text = stdin or ""
        if len(a) >= 2:
            src, dst = (s.encode().decode("unicode_escape") for s in a[:2])
            text = text.translate(str.maketrans(src, dst[: len(src)].ljust(len(src), dst[-1:] or " ")))
        self.out.append(text)
        return 0

    def _test(self, a: list[str], stdin: str | None) -> int:
        if a and a[-1] == "]":
            a = a[:-1]
        neg = bool(a) and a[0] == "!"
        if neg:
            a = a[1:]
        ok = False
        if len(a) == 2 and a[0] in ("-e", "-f", "-d", "-L", "-h", "-r", "-w"):
            kind = self.m.stat(a[1])
            ok = {"-e": kind is not None, "-f": kind == "file", "-d": kind == "dir",
                  "-L": kind == "link", "-h": kind == "link", "-r": kind == "file",
                  "-w": kind == "file"}[a[0]]
        elif len(a) == 2 and a[0] in ("-n", "-z"):
            ok = (a[1] != "") == (a[0] == "-n")
        elif len(a) == 3:
            x, op, y = a
            num = {"-eq": int.__eq__, "-ne": int.__ne__, "-lt": int.__lt__, "-gt": int.__gt__,
                   "-le": int.__le__, "-ge": int.__ge__}
            if op in num:
                ok = bool(num[op](int(x), int(y)))
            else:
                ok = (x == y) if op in ("=", "==") else (x != y)
        elif len(a) == 1:
            ok = a[0] != ""
        return 0 if ok != neg else 1
