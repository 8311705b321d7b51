"""Replay an oracle case (``shared/oracle/FORMAT.md``): boot its firmware with its command line
and kernel configuration, run its steps, and write ``<label>.json`` per snapshot plus
``steps.json`` exactly as ``compare.py`` reads them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import StepNotImplementedError
from .machine import Machine, errno_name
from .minish import MiniSh


def run_step(m: Machine, i: int, st: dict[str, Any]) -> dict[str, Any]:
    """Execute one non-snapshot step; the result entry of steps.json."""
    res: dict[str, Any] = {"index": i}
    if "write" in st:
        try:
            m.write(st["write"], st.get("data", ""))
            res["result"] = "ok"
        except OSError as e:
            res["result"] = errno_name(e)
    elif "read" in st:
        try:
            res["data"] = m.read(st["read"])
            res["result"] = "ok"
        except OSError as e:
            res["result"] = errno_name(e)
    elif "firmware" in st:
        kind = st["firmware"]
        try:
            if kind == "add_memory":
                res["node"] = m.add_memory(st["start"], st["size"], st.get("pxm"))
            elif kind == "remove_memory":
                m.remove_memory(st["start"], st["size"])
            elif kind == "add_cpu":
                res["cpu"] = m.add_cpu(st["apic_id"], st.get("pxm"))
            elif kind == "remove_cpu":
                m.remove_cpu(st["apic_id"])
            else:
                raise StepNotImplementedError(f"step {i}: firmware event {kind!r} is not implemented")
            res["result"] = "ok"
        except OSError as e:
            # insert failures are invisible to user space: the device is just not there
            res["result"] = "rejected" if kind.startswith("add_") else errno_name(e)
    elif "shell" in st:
        rc, out = MiniSh(m).run(st["shell"])
        res.update(rc=rc, stdout=out)
    else:
        kinds = sorted(k for k in st if k not in ("label", "oracle_index"))
        raise StepNotImplementedError(f"step {i}: step kind {kinds} is not implemented")
    return res


HARNESS_CMDLINE = "console=ttyS0 panic=-1 log_buf_len=16M"


def case_cmdline(case: dict[str, Any]) -> str:
    """The command line the kernel really booted with: the harness' parameters
    (``console=ttyS0 panic=-1 log_buf_len=16M``) matter, as ``log_buf_len`` reserves memory."""
    full = case.get("source", {}).get("kernel_cmdline")
    if full:
        return str(full)
    # every oracle run booted with the harness' parameters in front of the case's own
    return " ".join(filter(None, [HARNESS_CMDLINE, str(case.get("cmdline", ""))]))


def replay(case_dir: str | Path, out_dir: str | Path) -> list[dict[str, Any]]:
    """Replay ``case_dir`` into ``out_dir``; returns the step results."""
    case_dir, out_dir = Path(case_dir), Path(out_dir)
    case = json.loads((case_dir / "case.json").read_text())
    m = Machine(
        case["firmware"],
        case_cmdline(case),
        case.get("kernel_config") or "oracle",
        case.get("patchset_version"),
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    results = []
    for i, st in enumerate(case.get("steps", [])):
        if "snapshot" in st:
            (out_dir / f"{st['snapshot']}.json").write_text(json.dumps(m.snapshot()))
            continue
        results.append(run_step(m, i, st))
    (out_dir / "steps.json").write_text(json.dumps(results, indent=1))
    return results
