"""numa_hpe.sweep: grids, per-row errors, executors (process pool, threads, a real dask
LocalCluster) giving equal tables, exports, and ``numa-hpe sweep SPEC.toml``."""

from __future__ import annotations

import concurrent.futures as cf
import csv
import io
import json
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from test_cli import numa_hpe_cmd

import numa_hpe
from numa_hpe._progress import Progress
from numa_hpe.sweep import configs_from_spec, grid, run_config
from numa_hpe.sweep_metrics import boot_summary

SYS = "/sys/devices/system"
TOPOLOGIES = [
    "node:1 package:1 core:4 pu:2",
    "node:2 package:1 core:4 pu:2",
    "node:4 package:1 core:2 pu:2",
    "package:2 node:2 core:2 pu:1",
    "node:8 package:1 core:1 pu:1",
]
CMDLINES = ["", "numa=off", "numa=possible=16", "mem=1G maxcpus=2"]
HOTPLUG = {"maxmem": "8G", "slots": 2}


def boot_and_distance(m: numa_hpe.Machine, config: Mapping[str, Any]) -> dict[str, Any]:
    """A user metric: the boot summary plus node 0's distance row."""
    return {**boot_summary(m, config), "distance0": m.read(f"{SYS}/node/node0/distance").split()}


def raises(m: numa_hpe.Machine, config: Mapping[str, Any]) -> int:
    return 1 // config["divisor"]


def unpicklable(m: numa_hpe.Machine, config: Mapping[str, Any]) -> Any:
    return threading.Lock()


def small_grid() -> list[dict[str, Any]]:
    configs = grid({"firmware": TOPOLOGIES, "cmdline": CMDLINES}, base={"firmware_args": HOTPLUG})
    configs.append({"firmware": "core:2 node:2"})  # the node level must sit above core
    configs.append({"firmware": "node:2 core:2", "firmware_args": HOTPLUG,
                    "scenario": ["add_memory 0x100000000 128M 1",
                                 "echo online > /sys/devices/system/memory/memory99/state"]})
    return configs


def test_grid_product_order_and_dotted_axes() -> None:
    base = {"cmdline": "x", "firmware_args": {"mem_per_node": "1G"}}
    g = grid({"firmware": ["a", "b"]}, base=base, **{"firmware_args.slots": [0, 2]})
    assert [(c["firmware"], c["firmware_args"]["slots"]) for c in g] == [
        ("a", 0), ("a", 2), ("b", 0), ("b", 2)]
    assert all(c["cmdline"] == "x" and c["firmware_args"]["mem_per_node"] == "1G" for c in g)
    g[0]["firmware_args"]["mem_per_node"] = "2G"
    assert g[1]["firmware_args"]["mem_per_node"] == "1G" == base["firmware_args"]["mem_per_node"]


def test_local_process_pool_equals_dask_local_cluster() -> None:
    distributed = pytest.importorskip("distributed", reason="dask[distributed] not installed")
    configs = small_grid()
    local = numa_hpe.sweep(configs, boot_and_distance)  # default: 2 local processes
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        remote = numa_hpe.sweep(configs, boot_and_distance, client)
    assert len(local) == len(configs) == 22
    assert local.without_timings() == remote.without_timings()
    assert [r["index"] for r in local] == list(range(22))
    by = {(r["firmware"], r["cmdline"]): r for r in local[:20]}
    assert by[("node:4 package:1 core:2 pu:2", "")]["zonelist_node0"] == "0 1 2 3"
    assert by[("node:4 package:1 core:2 pu:2", "numa=off")]["nodes_online"] == 1
    assert by[("node:2 package:1 core:4 pu:2", "")]["distance0"] == ["10", "20"]
    assert by[("node:1 package:1 core:4 pu:2", "")]["sched_levels_cpu0"] == "SMT,MC"
    assert all(r["boot_s"] > 0 for r in local[:20])
    assert [r["error_type"] for r in local[20:]] == ["InvalidDescriptionError", "FileNotFoundError"]


def test_errors_are_captured_per_row_and_never_abort() -> None:
    configs = [
        {"firmware": "node:2 core:2", "divisor": 1},
        {"firmware": "node:2 core:2", "divisor": 0},  # fn raises
        {"firmware": {"e820": [], "cpus": []}, "divisor": 1},  # fails to boot
        {"firmware": "bogus:1", "divisor": 1},  # bad description
        {"firmware": "node:2 core:2", "divisor": 1,
         "scenario": [{"op": "write", "path": f"{SYS}/node/online", "data": "0\n"}]},
        {"firmware": "node:2 core:2", "divisor": 1,
         "scenario": [{"op": "write", "path": f"{SYS}/node/online", "data": "0\n", "check": False}]},
    ]
    with cf.ThreadPoolExecutor(2) as ex:
        r = numa_hpe.sweep(configs, raises, ex, chunksize=1)
    got = [(row["error_type"], row.get("value")) for row in r]
    assert got == [(None, 1), ("ZeroDivisionError", None), ("ValueError", None),
                   ("InvalidDescriptionError", None), ("PermissionError", None), (None, 1)]
    assert "by zero" in r[1]["error_message"]
    assert "scenario step" in r[4]["error_message"] and r[4]["boot_s"] is not None
    assert r[2]["boot_s"] is None and len(r.errors()) == 4


def test_unpicklable_result_becomes_a_row_error() -> None:
    with cf.ProcessPoolExecutor(1) as ex:
        r = numa_hpe.sweep([{"firmware": "node:1 core:1"}] * 2, unpicklable, ex, chunksize=1)
    assert [row["error_type"] for row in r] == ["TypeError", "TypeError"]
    assert "pickle" in r[0]["error_message"]


def test_named_and_dotted_fns_run_in_the_worker() -> None:
    row = run_config(0, {"firmware": "node:2 core:2", "firmware_args": HOTPLUG,
                         "scenario": ["add_memory 0x100000000 128M 1"]}, "memory")
    assert (row["blocks_offline"], row["has_memory"], row["error_type"]) == (1, "0-1", None)
    row = run_config(1, {"firmware": "node:2 core:2"}, "numa_hpe.sweep_metrics:boot_summary")
    assert row["nodes_online"] == 2
    row = run_config(2, {}, "no_such_module:fn")
    assert row["error_type"] == "ModuleNotFoundError"


def test_exports(tmp_path: Path) -> None:
    with cf.ThreadPoolExecutor(2) as ex:
        r = numa_hpe.sweep(small_grid()[:4], boot_and_distance, ex)
    rows = list(csv.DictReader(io.StringIO(r.to_csv(tmp_path / "r.csv"))))
    assert [row["nodes_online"] for row in rows] == ["1", "1", "1", "1"]
    assert json.loads(rows[0]["distance0"]) == ["10"]
    r.save(tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())[0]["distance0"] == ["10"]
    pq = pytest.importorskip("pyarrow.parquet", reason="pyarrow not installed (optional)")
    r.save(tmp_path / "r.parquet")
    table = pq.read_table(tmp_path / "r.parquet")
    assert table.num_rows == 4 and table.column("distance0").to_pylist()[0] == ["10"]
    with pytest.raises(ValueError, match="unknown output format"):
        r.save(tmp_path / "r.xlsx")


def test_progress_bar_draws_only_when_enabled() -> None:
    buf = io.StringIO()
    with Progress(3, enabled=True, stream=buf) as bar:
        bar.update(3, errors=1)
    assert "3/3" in buf.getvalue() and "1 errors" in buf.getvalue()
    quiet = io.StringIO()
    with Progress(3, stream=quiet) as bar:  # a StringIO is not a terminal
        bar.update(3)
    assert quiet.getvalue() == ""


SPEC = """\
fn = "mymetrics:nodes_and_mem"
[base]
firmware_args = { mem_per_node = "512M" }
[axes]
firmware = ["node:1 core:2", "node:2 core:2", "node:4 core:2"]
cmdline = ["", "numa=off"]
[[configs]]
firmware = "node:3 core:2"
"firmware_args.distance" = [[10, 20], [20, 10]]
[run]
workers = 2
"""
METRICS_PY = """\
def nodes_and_mem(m, config):
    return {"online": m.read("/sys/devices/system/node/online").strip()}
"""


def test_cli_sweep_writes_csv_and_json(tmp_path: Path) -> None:
    (tmp_path / "spec.toml").write_text(SPEC)
    (tmp_path / "mymetrics.py").write_text(METRICS_PY)
    spec = tmp_path / "spec.toml"
    assert len(configs_from_spec(__import__("tomllib").loads(SPEC))) == 7
    r = subprocess.run(numa_hpe_cmd() + ["sweep", str(spec), "-o", str(tmp_path / "out.csv")],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "7 configs, 1 errors" in r.stderr and "[#" not in r.stderr  # no tty: no bar
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert [row["online"] for row in rows] == ["0", "0", "0-1", "0", "0-3", "0", ""]
    assert rows[6]["error_type"] == "InvalidDescriptionError"
    r = subprocess.run(numa_hpe_cmd() + ["sweep", str(spec), "-o", str(tmp_path / "out.json"),
                                         "--executor", "thread", "--progress"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "sweep 7/7 [####" in r.stderr
    data = json.loads((tmp_path / "out.json").read_text())
    assert [d["online"] for d in data[:6]] == [row["online"] for row in rows[:6]]
    assert data[0]["firmware_args.mem_per_node"] == "512M"


def test_cli_sweep_rejects_unknown_spec_keys(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text('fn = "boot"\naxis = {}\n')
    r = subprocess.run([sys.executable, "-m", "numa_hpe.cli", "sweep", str(tmp_path / "bad.toml")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and "unknown keys" in r.stderr
