"""Conformance against the real-kernel oracle cases (``shared/oracle/cases``).

Every case is replayed once per session with :func:`numa_hpe.replay.replay` and scored with the
oracle's own ``compare.py``. Two kinds of tests:

* ``test_oracle_case[CASE]``: the whole case scores 100% (``compare.py --case`` exits 0);
* ``test_oracle_rule[CASE-RULE]``: one rule group (``node``, ``memory``, ``dmesg.sched``,
  ``steps`` ...) of one case scores 100%.

Rule groups that do not conform yet are listed in ``oracle_known_gaps.txt`` as ``CASE RULE``
lines; their tests are strict xfails, so a fixed group XPASSes and fails the run until its line
is deleted. A case with any listed gap has a strict-xfail case test as well.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from _shared import REPO, case_names, compare_module, oracle_dir
from numa_hpe.replay import replay

GAPS_FILE = Path(__file__).with_name("oracle_known_gaps.txt")
CASES = case_names()


def read_known_gaps() -> set[tuple[str, str]]:
    gaps = set()
    for raw in GAPS_FILE.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            case, rule = line.split()
            gaps.add((case, rule))
    return gaps


KNOWN_GAPS = read_known_gaps()


def expected_rules(case: str) -> list[str]:
    """Rule groups the case's expected files score (without running the emulator)."""
    cmp = compare_module()
    cdir = oracle_dir() / "cases" / case  # type: ignore[operator]
    rules: set[str] = set()
    for f in sorted((cdir / "expected").glob("*.json")):
        rules.update(cmp.expected_field_count(cmp.load_json(str(f))).rules)
    steps = json.loads((cdir / "case.json").read_text()).get("steps", [])
    rules.update(cmp.compare_steps(steps, []).rules)
    order = list(cmp.RULE_ORDER)
    return sorted(rules, key=lambda r: (order.index(r) if r in order else len(order), r))


def _actual_path(out: Path, label: str) -> Path | None:
    for name in (f"{label}.json", f"{label}.json.xz"):
        if (out / name).exists():
            return out / name
    return None


def score_case(case_dir: Path, out: Path) -> Any:
    """compare.py's ``compare_case`` scoring, returning its Score instead of printing."""
    cmp = compare_module()
    total = cmp.Score()
    for f in sorted((case_dir / "expected").glob("*.json")):
        expected = cmp.load_json(str(f))
        label = f.name[: -len(".json")]
        ap = _actual_path(out, label)
        if ap is None:
            sc = cmp.Score()
            for rule, (_, t) in cmp.expected_field_count(expected).rules.items():
                sc.count(rule, 0, t)
            sc.mismatches.append(("snapshot", label, "<snapshot>", f"<missing {label}.json>"))
        else:
            sc = cmp.compare_snapshots(expected, cmp.load_json(str(ap)))
        total.merge(sc, prefix=f"{label}: ")
    steps = json.loads((case_dir / "case.json").read_text()).get("steps", [])
    results = json.loads((out / "steps.json").read_text()) if (out / "steps.json").exists() else []
    total.merge(cmp.compare_steps(steps, results))
    return total


@pytest.fixture(scope="session")
def case_scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """CASE -> Score, or the exception the replay raised; filled lazily."""
    cache: dict[str, Any] = {}

    def get(case: str) -> Any:
        if case not in cache:
            cdir = oracle_dir() / "cases" / case  # type: ignore[operator]
            out = tmp_path_factory.mktemp(f"replay-{case}")
            try:
                replay(cdir, out)
                cache[case] = score_case(cdir, out)
            except Exception as e:  # a broken replay fails every test of the case
                cache[case] = e
        return cache[case]

    return {"get": get}


def _score(case_scores: dict[str, Any], case: str) -> Any:
    sc = case_scores["get"](case)
    if isinstance(sc, Exception):
        raise AssertionError(f"replay of {case} failed: {sc!r}") from sc
    return sc


def _mismatch_text(sc: Any, rule: str | None, limit: int = 12) -> str:
    rows = [m for m in sc.mismatches if rule is None or m[0] == rule]
    lines = [f"  [{r}] {w}\n      expected: {e!r}\n      actual:   {a!r}" for r, w, e, a in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"  ... {len(rows) - limit} more")
    return "\n".join(lines)


def _case_params() -> list[Any]:
    out = []
    for case in CASES:
        gaps = sorted(r for c, r in KNOWN_GAPS if c == case)
        marks = [pytest.mark.xfail(strict=True, reason=f"known gaps: {' '.join(gaps)}")] if gaps else []
        out.append(pytest.param(case, id=case, marks=marks))
    return out


def _rule_params() -> list[Any]:
    out = []
    for case in CASES:
        for rule in expected_rules(case):
            marks = []
            if (case, rule) in KNOWN_GAPS:
                marks = [pytest.mark.xfail(strict=True, reason="listed in oracle_known_gaps.txt")]
            out.append(pytest.param(case, rule, id=f"{case}-{rule}", marks=marks))
    return out


def test_oracle_cases_found() -> None:
    """The oracle directory is there and holds cases (no silent empty parametrization)."""
    assert oracle_dir() is not None, "shared/oracle not found beside the repository"
    assert CASES, "no cases in shared/oracle/cases"


@pytest.mark.parametrize("case", _case_params())
def test_oracle_case(case: str, case_scores: dict[str, Any]) -> None:
    sc = _score(case_scores, case)
    m, t = sc.totals()
    assert t > 0
    assert m == t, f"{case}: conformance {m}/{t} ({100.0 * m / t:.2f}%)\n{_mismatch_text(sc, None)}"


@pytest.mark.parametrize(("case", "rule"), _rule_params())
def test_oracle_rule(case: str, rule: str, case_scores: dict[str, Any]) -> None:
    sc = _score(case_scores, case)
    m, t = sc.rules.get(rule, (0, 0))
    assert t > 0, f"{case}: rule {rule} scored no field"
    assert m == t, f"{case} {rule}: {m}/{t}\n{_mismatch_text(sc, rule)}"


def test_known_gaps_are_real_rules() -> None:
    """Every line of oracle_known_gaps.txt names an existing case and one of its rule groups."""
    stale = [(c, r) for c, r in sorted(KNOWN_GAPS) if c not in CASES or r not in expected_rules(c)]
    assert not stale, f"stale lines in {GAPS_FILE.relative_to(REPO)}: {stale}"
