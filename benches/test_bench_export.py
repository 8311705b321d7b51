"""Export of the 8192-CPU / 1024-node / 8192-block machine to tmpfs (``/dev/shm``).

``pytest benches/test_bench_export.py --benchmark-only`` measures; CI runs it once with
``--benchmark-disable``. See benches/README.md for the figures.
"""

from __future__ import annotations

import itertools
import shutil
import tempfile
from pathlib import Path

import pytest
from conftest import HUGE_TOPOLOGY, huge_distance

import numa_hpe
from numa_hpe import Firmware

#: 8 GiB per node: 1024 x 8 GiB = 8 TiB in 8192 blocks of 1 GiB.
MEM_PER_NODE = 8 << 30


@pytest.fixture(scope="module")
def export_machine() -> numa_hpe.Machine:
    fw = Firmware.synthetic(HUGE_TOPOLOGY, mem_per_node=MEM_PER_NODE, distance=huge_distance)
    return numa_hpe.boot(fw.to_json())


@pytest.fixture
def shm_dir() -> Path:
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else None
    d = Path(tempfile.mkdtemp(prefix="numa_hpe_export_", dir=base))
    yield d  # type: ignore[misc]
    shutil.rmtree(d, ignore_errors=True)


@pytest.mark.benchmark(group="export")
def test_export_8192cpu_1024node_8192blocks(benchmark, export_machine: numa_hpe.Machine, shm_dir: Path) -> None:  # type: ignore[no-untyped-def]
    m = export_machine
    blocks = len([e for e in m.listdir("/sys/devices/system/memory") if e.startswith("memory")])
    benchmark.extra_info.update(ncpus=8192, nnodes=1024, nblocks=blocks)
    counter = itertools.count()

    def fresh() -> tuple[tuple[Path], dict[str, object]]:
        return (shm_dir / f"r{next(counter)}",), {}

    st = benchmark.pedantic(m.export, setup=fresh, rounds=3, iterations=1)
    benchmark.extra_info.update(files=st.files, links=st.links, dirs=st.dirs, mib=st.bytes >> 20)
    assert blocks == 8192
    assert st.files + st.links + st.dirs > 230_000
    root = shm_dir / "r0"
    assert (root / "sys/devices/system/cpu/online").read_text() == "0-8191\n"
    assert (root / "sys/devices/system/node/node1023/cpulist").read_text() == "8184-8191\n"
