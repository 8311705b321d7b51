"""Parameter sweeps: one user function over a grid of firmware x command line x scenario.

A *config* is a plain dict (so it pickles, and it is what a TOML spec holds):

``firmware``
    a :class:`~numa_hpe.Firmware`, a firmware dict (``Firmware.to_dict()``) or its JSON text,
    an hwloc-style synthetic topology (``"node:4 package:1 core:8 pu:2"``), ``"qemu"``
    (:meth:`Firmware.qemu`), or missing/None for the built-in default machine.
``firmware_args``
    keyword arguments for :meth:`Firmware.synthetic` / :meth:`Firmware.qemu`
    (``{"mem_per_node": "1G", "distance": [[10, 20], [20, 10]]}``); a ``distance`` given as a
    ``"module:function"`` string is imported in the worker.
``cmdline``, ``kernel_config``, ``patchset_version``
    as for :func:`numa_hpe.boot`.
``scenario``
    run after boot, before ``fn``: a list of steps, or a callable / ``"module:function"`` called
    as ``scenario(machine, config)``. A step is a shell line (``"echo online >
    /sys/devices/system/memory/memory32/state"``, ``"echo -n X > PATH"``, ``"cat PATH"``,
    ``"add_memory START SIZE [PXM]"``, ``"remove_memory START SIZE"``, ``"add_cpu APIC_ID
    [PXM]"``, ``"remove_cpu APIC_ID"``) or a dict ``{"op": "write", "path": .., "data": ..}`` /
    ``{"op": "add_memory", "start": .., "size": .., "pxm": ..}`` / ... with ``"check": false``
    to ignore its failure. A failing step fails the row.

Any other key is carried into the row unchanged (a label, a seed, ...). ``fn(machine, config)``
returns a mapping (its items become columns) or any other value (column ``value``); ``fn`` may
also be a ``"module:function"`` string or the name of a built-in metric set (:data:`METRICS`).

Rows hold the config (nested dicts flattened to dotted names, lists/objects as JSON text), the
metrics, ``error_type``/``error_message`` (None unless the row failed: a failing boot, step or
``fn`` never aborts the sweep), and the timings ``boot_s`` and ``elapsed_s``.
"""

from __future__ import annotations

import concurrent.futures as cf
import copy
import hashlib
import importlib
import itertools
import json
import math
import os
import shlex
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ._progress import Progress
from .firmware import Firmware, default_firmware, parse_size
from .machine import Machine
from .sweep_metrics import METRICS

__all__ = ["METRICS", "SweepResult", "configs_from_spec", "grid", "run_config", "sweep"]

TIMING_COLUMNS = ("boot_s", "elapsed_s")
ERROR_COLUMNS = ("error_type", "error_message")
SweepFn = Callable[[Machine, Mapping[str, Any]], Any]


# -- grids ----------------------------------------------------------------------------------
def _set_dotted(d: dict[str, Any], key: str, value: Any) -> None:
    *parents, last = key.split(".")
    for p in parents:
        d = d.setdefault(p, {})
    d[last] = value


def grid(
    axes: Mapping[str, Sequence[Any]] | None = None,
    /,
    *,
    base: Mapping[str, Any] | None = None,
    **more_axes: Sequence[Any],
) -> list[dict[str, Any]]:
    """Every combination of the named axes (``itertools.product``, last axis fastest).

    Dotted axis names nest: ``grid({"firmware": topos, "firmware_args.mem_per_node": ["1G",
    "2G"]}, base={"cmdline": "numa=possible=8"})``. ``base`` holds the fixed keys; each config
    is a fresh deep copy, so configs never share mutable values.
    """
    named = {**(axes or {}), **more_axes}
    names = list(named)
    out: list[dict[str, Any]] = []
    for values in itertools.product(*(list(named[n]) for n in names)):
        cfg: dict[str, Any] = copy.deepcopy(dict(base)) if base else {}
        for n, v in zip(names, values):
            _set_dotted(cfg, n, v)
        out.append(cfg)
    return out


def configs_from_spec(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The configs of a TOML spec: ``[axes]`` as a :func:`grid` over ``[base]``, then each
    ``[[configs]]`` table merged onto ``[base]``."""
    unknown = set(spec) - {"fn", "output", "base", "axes", "configs", "run"}
    if unknown:
        raise ValueError(f"spec: unknown keys {sorted(unknown)}")
    base = dict(spec.get("base") or {})
    out = grid(spec["axes"], base=base) if spec.get("axes") else []
    for extra in spec.get("configs") or []:
        cfg = copy.deepcopy(base)
        for k, v in extra.items():
            _set_dotted(cfg, k, v)
        out.append(cfg)
    if not out:
        raise ValueError("spec: no configs (give [axes] and/or [[configs]])")
    return out


# -- running one config (in the worker) -----------------------------------------------------
def _import(spec: str) -> Any:
    module, _, name = spec.partition(":")
    if not name:
        raise ValueError(f"expected `module:function`, got {spec!r}")
    obj: Any = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def resolve_fn(fn: SweepFn | str) -> SweepFn:
    """A callable from a callable, a built-in metric set name or a ``module:function`` path."""
    if callable(fn):
        return fn
    if fn in METRICS:
        return METRICS[fn]
    return _import(fn)  # type: ignore[no-any-return]


def _firmware(cfg: Mapping[str, Any]) -> Firmware:
    fw = cfg.get("firmware")
    args = dict(cfg.get("firmware_args") or {})
    if isinstance(args.get("distance"), str):
        args["distance"] = _import(args["distance"])
    if fw is None:
        if args:
            raise ValueError("firmware_args given without a firmware")
        return default_firmware()
    if isinstance(fw, Firmware):
        return fw
    if isinstance(fw, dict):
        return Firmware.from_dict(fw)
    if not isinstance(fw, str):
        raise TypeError(f"firmware: expected Firmware, dict or str, got {type(fw).__name__}")
    if fw.lstrip().startswith("{"):
        return Firmware.from_json(fw)
    if fw == "qemu":
        return Firmware.qemu(**args)
    return Firmware.synthetic(fw, **args)


def _int(text: str | int) -> int:
    return text if isinstance(text, int) else parse_size(text) if text[-1:].isalpha() else int(text, 0)


def _step(m: Machine, step: str | Mapping[str, Any]) -> None:
    given = step
    if isinstance(step, str):
        text = step.strip()
        if text.startswith("echo ") and ">" in text:
            left, path = text[5:].rsplit(">", 1)
            left, nl = left.strip(), "\n"
            if left.startswith("-n "):
                left, nl = left[3:].strip(), ""
            step = {"op": "write", "path": path.strip(), "data": left.strip("\"'") + nl}
        else:
            verb, *args = shlex.split(text)
            names = {"cat": ["path"], "add_memory": ["start", "size", "pxm"],
                     "remove_memory": ["start", "size"], "add_cpu": ["apic_id", "pxm"],
                     "remove_cpu": ["apic_id"]}.get(verb)
            if names is None or len(args) > len(names):
                raise ValueError(f"scenario: unsupported step {step!r}")
            step = {"op": "read" if verb == "cat" else verb, **dict(zip(names, args))}
    op = step.get("op")
    try:
        if op == "write":
            m.write(step["path"], step["data"])
        elif op == "read":
            m.read(step["path"])
        elif op in ("add_memory", "remove_memory"):
            extra = [] if step.get("pxm") is None or op == "remove_memory" else [_int(step["pxm"])]
            getattr(m, op)(_int(step["start"]), _int(step["size"]), *extra)
        elif op in ("add_cpu", "remove_cpu"):
            extra = [] if step.get("pxm") is None or op == "remove_cpu" else [_int(step["pxm"])]
            getattr(m, op)(_int(step["apic_id"]), *extra)
        else:
            raise ValueError(f"scenario: unknown op {op!r}")
    except OSError as e:
        if step.get("check", True):
            raise type(e)(e.errno, f"{e.strerror} (scenario step {given!r})", e.filename) from e


def run_config(index: int, cfg: Mapping[str, Any], fn: SweepFn | str) -> dict[str, Any]:
    """Boot one config, run its scenario and ``fn``; always returns a row, never raises."""
    row: dict[str, Any] = {"index": index, **config_columns(cfg)}
    t0 = time.perf_counter()
    boot_s = None
    try:
        f = resolve_fn(fn)
        fw = _firmware(cfg)
        m = Machine(fw, cfg.get("cmdline") or "", cfg.get("kernel_config") or "numa_hpe",
                    cfg.get("patchset_version"))
        boot_s = time.perf_counter() - t0
        scenario = cfg.get("scenario")
        if isinstance(scenario, str) or callable(scenario):
            (resolve_fn(scenario) if isinstance(scenario, str) else scenario)(m, cfg)
        else:
            for step in scenario or []:
                _step(m, step)
        out = f(m, cfg)
        metrics = dict(out) if isinstance(out, Mapping) else {"value": out}
        for k, v in metrics.items():
            row[k if k not in row else f"fn.{k}"] = _plain(v)
        row["error_type"] = row["error_message"] = None
    except Exception as e:  # noqa: BLE001 - a sweep records every failure in its row
        row["error_type"], row["error_message"] = type(e).__name__, str(e)
    row["boot_s"] = boot_s
    row["elapsed_s"] = time.perf_counter() - t0
    return row


def run_chunk(chunk: Sequence[tuple[int, Mapping[str, Any]]], fn: SweepFn | str) -> list[dict[str, Any]]:
    """The unit of work sent to a worker: a few configs, to amortise the per-task cost."""
    return [run_config(i, cfg, fn) for i, cfg in chunk]


def _plain(v: Any) -> Any:
    """Plain Python values (numpy scalars and arrays, tuples) so rows pickle and serialise."""
    if hasattr(v, "tolist"):
        return v.tolist()
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


def config_columns(cfg: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A config as flat scalar columns (dotted names; lists and objects as JSON text)."""
    out: dict[str, Any] = {}
    for k, v in cfg.items():
        name = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(config_columns(v, f"{name}."))
        elif isinstance(v, Firmware):
            digest = hashlib.sha1(v.to_json().encode()).hexdigest()[:12]
            out[name] = f"Firmware({len(v.cpus)} cpus, sha1 {digest})"
        elif callable(v):
            out[name] = f"{getattr(v, '__module__', '?')}:{getattr(v, '__qualname__', repr(v))}"
        elif v is None or isinstance(v, (str, int, float, bool)):
            out[name] = v
        else:
            out[name] = json.dumps(v, default=repr)
    return out


# -- the sweep ------------------------------------------------------------------------------
def _as_executor(executor: Any) -> tuple[cf.Executor, bool]:
    """(executor, owned): a default process pool, any Executor, or a dask ``Client``."""
    if executor is None:
        workers = min(2, os.cpu_count() or 1)
        return cf.ProcessPoolExecutor(max_workers=workers), True
    if isinstance(executor, cf.Executor):
        return executor, False
    if hasattr(executor, "get_executor") and hasattr(executor, "submit"):  # distributed.Client
        return executor.get_executor(pure=False), False
    raise TypeError(f"executor: expected a concurrent.futures.Executor or a dask Client, "
                    f"got {type(executor).__name__}")


def _workers(ex: cf.Executor) -> int:
    n = getattr(ex, "_max_workers", None)
    client = getattr(ex, "_client", None)
    if client is not None:
        try:
            n = sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
        except Exception:  # noqa: BLE001 - only a sizing hint
            n = None
    return int(n or 2)


def sweep(
    configs: Iterable[Mapping[str, Any]],
    fn: SweepFn | str,
    executor: Any = None,
    *,
    chunksize: int | None = None,
    progress: bool | None = None,
) -> SweepResult:
    """Run ``fn(machine, config)`` for every config; one row per config, in config order.

    Parameters
    ----------
    configs:
        dicts as described in the module docstring (:func:`grid` builds them).
    fn:
        a callable, a ``"module:function"`` path or a built-in metric set name (``"boot"``).
        With a process pool it must be picklable (a module-level function); dask pickles
        with cloudpickle.
    executor:
        None (a local process pool with ``min(2, cpus)`` workers), any
        ``concurrent.futures.Executor``, or a dask ``distributed.Client``.
    chunksize:
        configs per task; default about eight tasks per worker.
    progress:
        a progress bar on stderr; None shows it only when stderr is a terminal.
    """
    items = [(i, dict(c)) for i, c in enumerate(configs)]
    ex, owned = _as_executor(executor)
    rows: list[dict[str, Any] | None] = [None] * len(items)
    try:
        size = chunksize or max(1, math.ceil(len(items) / (8 * _workers(ex))))
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        futures = {ex.submit(run_chunk, chunk, fn): chunk for chunk in chunks}
        with Progress(len(items), enabled=progress) as bar:
            for fut in cf.as_completed(futures):
                chunk = futures[fut]
                try:
                    done = fut.result()
                except Exception as e:  # noqa: BLE001 - a lost worker or an unpicklable row
                    done = [_failed_row(i, cfg, e) for i, cfg in chunk]
                for row in done:
                    rows[row["index"]] = row
                bar.update(len(done), sum(r["error_type"] is not None for r in done))
    finally:
        if owned:
            ex.shutdown(wait=True, cancel_futures=True)
    return SweepResult([r for r in rows if r is not None])


def _failed_row(i: int, cfg: Mapping[str, Any], e: BaseException) -> dict[str, Any]:
    return {"index": i, **config_columns(cfg), "error_type": type(e).__name__,
            "error_message": str(e), "boot_s": None, "elapsed_s": None}


# -- the table ------------------------------------------------------------------------------
class SweepResult(Sequence[dict[str, Any]]):
    """Rows of a sweep: a list of dicts with CSV / JSON / Parquet export (pandas optional)."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: Any) -> Any:
        return self.rows[i]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def __repr__(self) -> str:
        return f"SweepResult({len(self.rows)} rows, {len(self.errors())} errors)"

    @property
    def columns(self) -> list[str]:
        """Every column in first-seen order, errors and timings last."""
        seen = dict.fromkeys(k for r in self.rows for k in r)
        tail = [*ERROR_COLUMNS, *TIMING_COLUMNS]
        return [k for k in seen if k not in tail] + [k for k in tail if k in seen]

    def errors(self) -> list[dict[str, Any]]:
        return [r for r in self.rows if r.get("error_type") is not None]

    def without_timings(self) -> list[dict[str, Any]]:
        """The rows without ``boot_s``/``elapsed_s``: equal across executors and runs."""
        return [{k: v for k, v in r.items() if k not in TIMING_COLUMNS} for r in self.rows]

    def _cells(self) -> list[dict[str, Any]]:
        cols = self.columns
        return [{c: _cell(r.get(c)) for c in cols} for r in self.rows]

    def to_csv(self, path: str | Path | None = None) -> str:
        """CSV text (lists and dicts as JSON); written to ``path`` when given."""
        import csv
        import io

        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=self.columns, lineterminator="\n")
        w.writeheader()
        w.writerows(self._cells())
        if path is not None:
            Path(path).write_text(buf.getvalue())
        return buf.getvalue()

    def to_json(self, path: str | Path | None = None) -> str:
        """A JSON array of row objects; written to ``path`` when given."""
        text = json.dumps([{c: r.get(c) for c in self.columns} for r in self.rows], indent=1,
                          default=repr)
        if path is not None:
            Path(path).write_text(text + "\n")
        return text

    def to_parquet(self, path: str | Path) -> None:
        """Write Parquet (needs pyarrow: ``pip install 'numa_hpe[sweep]'``)."""
        try:
            pa: Any = importlib.import_module("pyarrow")
            pq: Any = importlib.import_module("pyarrow.parquet")
        except ImportError as e:
            raise ImportError("to_parquet needs pyarrow (pip install pyarrow)") from e
        cols = self.columns
        try:
            table = pa.Table.from_pylist([{c: r.get(c) for c in cols} for r in self.rows])
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # mixed types: text cells
            table = pa.Table.from_pylist(self._cells())
        pq.write_table(table, str(path))

    def to_pandas(self) -> Any:
        """A pandas DataFrame (pandas is optional)."""
        pd: Any = importlib.import_module("pandas")
        return pd.DataFrame(self.rows, columns=self.columns)

    def save(self, path: str | Path) -> None:
        """Write by extension: ``.csv``, ``.json`` or ``.parquet``."""
        ext = Path(path).suffix.lower()
        if ext == ".csv":
            self.to_csv(path)
        elif ext == ".json":
            self.to_json(path)
        elif ext in (".parquet", ".pq"):
            self.to_parquet(path)
        else:
            raise ValueError(f"unknown output format {ext!r} (expected .csv, .json or .parquet)")


def _cell(v: Any) -> Any:
    return json.dumps(v) if isinstance(v, (list, dict)) else v
