#!/usr/bin/env python3
"""Replay every oracle case and score it with compare.py: one line per case, or the
mismatches of one rule with --rule (developer tool; tests/test_oracle.py is the gate)."""

import argparse
import io
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORACLE = ROOT.parent / "shared" / "oracle"
sys.path.insert(0, str(ORACLE))

import compare  # noqa: E402

from numa_hpe.replay import replay  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("cases", nargs="*")
    ap.add_argument("--rule", default=None, help="print the mismatches of rules starting with this")
    ap.add_argument("--max", type=int, default=20)
    a = ap.parse_args()
    names = a.cases or sorted(p.name for p in (ORACLE / "cases").iterdir())
    tm = tt = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            case = ORACLE / "cases" / name
            out = Path(tmp) / name
            try:
                replay(case, out)
            except Exception as e:  # noqa: BLE001
                print(f"{name}: replay failed: {e!r}")
                continue
            buf = io.StringIO()
            compare.compare_case(str(case), str(out), out=buf)
            text = buf.getvalue()
            bad = [l.split()[0] for l in text.splitlines() if l.endswith("MISMATCH")]
            last = [l for l in text.splitlines() if l.startswith("conformance:")][-1]
            m, t = last.split()[1].split("/")
            tm, tt = tm + int(m), tt + int(t)
            print(f"{name:18} {last}  bad: {' '.join(bad)}")
            if a.rule:
                shown = 0
                lines = text.splitlines()
                for i, l in enumerate(lines):
                    if l.startswith(f"  - [{a.rule}") and shown < a.max:
                        print("\n".join(lines[i:i + 3]))
                        shown += 1
    print(f"TOTAL {tm}/{tt} ({100.0 * tm / max(tt, 1):.2f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
