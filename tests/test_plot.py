"""``numa-hpe plot``: PNG/SVG files of the distance matrix, the memory map and a CPU's sched
domains; the parsed sched-domain tree follows the numa4 case's kernel log (sched_verbose)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from numa_hpe import Firmware, Machine  # noqa: E402
from numa_hpe.cli import main  # noqa: E402
from numa_hpe.plot import sched_domains  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("what", ["distances", "memory", "sched"])
def test_cli_plot_png(what: str, oracle: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / f"{what}.png"
    assert main(["plot", what, "-o", str(out), "--case", str(oracle / "cases" / "numa4"), "--cpu", "2"]) == 0
    assert out.read_bytes()[:8] == PNG_MAGIC
    assert capsys.readouterr().out == f"{out}\n"


def test_cli_plot_svg(tmp_path: Path) -> None:
    out = tmp_path / "mem.svg"
    assert main(["plot", "memory", "-o", str(out), "--cmdline", "mem=2G numa=possible=4",
                 "--do", "echo 128M@0x80000000 > /sys/kernel/debug/mem_hotplug/add_node"]) == 0
    text = out.read_text()
    assert text.lstrip().startswith("<?xml") and "<svg" in text
    assert "offline" in text  # legend entry for the added, still offline block


def test_sched_domains_of_numa4(oracle: Path) -> None:
    m = Machine(Firmware.from_case(oracle / "cases" / "numa4"), "sched_verbose", "oracle")
    # numa4 expected/boot.json: CPU0 attaching sched-domain(s)
    doms = sched_domains(m, 0)
    assert [(d["level"], d["name"], d["span"]) for d in doms] == [
        (0, "SMT", "0-1"), (1, "NUMA", "0-3"), (2, "NUMA", "0-5"), (3, "NUMA", "0-7")]
    assert doms[0]["groups"] == ["0", "1"]
    assert doms[3]["groups"] == ["0-5", "2-7"]


def test_sched_domains_absent_without_sched_verbose() -> None:
    assert sched_domains(Machine(Firmware.qemu(cores=2)), 0) == []
