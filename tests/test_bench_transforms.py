"""benchmarks/bench_transforms.py: the peers apply per-image parameters, and the script runs at a tiny size."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_transforms.py"


def _load_bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_transforms", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _load_bench()


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], check=False, capture_output=True, text=True, timeout=120, cwd=ROOT
    )


@pytest.fixture(scope="module")
def tiny_run() -> str:
    result = _run("--batch-size", "4", "--repeats", "1", "--loop-repeats", "1")
    assert result.returncode == 0, result.stderr
    return result.stdout


def _table(stdout: str) -> tuple[list[str], list[list[str]]]:
    """The header's column names and the rows of the speed table."""
    lines = stdout.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("transform"))
    header = lines[at].replace(" img/s", "_img/s").replace("x ", "x_").split()
    rows = [line.split() for line in lines[at + 2 :] if line.split() and line.split()[0] in bench.NAMES]
    return header, rows


@pytest.mark.parametrize("peer", ["tv", "kornia", "torchaug"])
def test_table_has_speed_and_ratio_columns_for_each_available_peer(tiny_run: str, peer: str) -> None:
    if peer == "kornia":
        pytest.importorskip("kornia")
    if peer == "torchaug":
        pytest.importorskip("torchaug")
    header, rows = _table(tiny_run)
    assert f"{peer}_img/s" in header and f"x_{peer}" in header
    speed, ratio = header.index(f"{peer}_img/s"), header.index(f"x_{peer}")
    ours = header.index("ours_img/s")
    assert [(row[0], row[1]) for row in rows] == [
        (name, f"4x{shape}") for shape in ("1x28x28", "3x32x32") for name in bench.NAMES
    ]
    for row in rows:
        assert len(row) == len(header)
        assert float(row[speed]) > 0
        # The ratio is learnedaug's rate over the peer's, both printed (rounded) in the same row.
        assert float(row[ratio]) == pytest.approx(float(row[ours]) / float(row[speed]), rel=0.05, abs=0.02)


def test_without_torchaug_it_says_so_and_still_runs_the_other_peers() -> None:
    blocked = (
        "import runpy, sys; sys.modules['torchaug'] = None; "  # makes `import torchaug...` raise ImportError
        f"sys.argv = [{str(SCRIPT)!r}, '--batch-size', '2', '--repeats', '1', '--loop-repeats', '1']; "
        f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')"
    )
    result = subprocess.run(
        [sys.executable, "-c", blocked], check=False, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert result.returncode == 0, result.stderr
    assert "torchaug: not installed" in result.stdout
    header, rows = _table(result.stdout)
    assert "x_torchaug" not in header and "x_tv" in header
    assert len(rows) == 2 * len(bench.NAMES)
    assert result.stdout.splitlines()[-1].startswith("targets (CPU)")


@pytest.mark.parametrize("name", bench.NAMES)
@pytest.mark.parametrize("peer", ["ours", "tv", "kornia", "torchaug"])
def test_every_method_draws_per_image_parameters_and_keeps_its_input(peer: str, name: str) -> None:
    """A batch of one image repeated must come back as different images of the same shape, input untouched."""
    make = bench._ours if peer == "ours" else bench.PEERS[peer]
    fn = make(name)
    if fn is None:
        pytest.skip(f"{peer} is not installed")
    torch.manual_seed(0)
    image = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    x = image.expand(6, -1, -1, -1).contiguous()
    before = x.clone()
    y = fn(x)
    assert torch.equal(x, before)
    assert y.shape == x.shape and y.dtype == x.dtype
    distinct = {tuple(row.tolist()) for row in y.flatten(1)[:, ::7]}
    assert len(distinct) == 6


def test_bad_batch_size_is_refused_naming_the_argument() -> None:
    result = _run("--batch-size", "0")
    assert result.returncode == 2
    assert "--batch-size" in result.stderr and "got 0" in result.stderr
