"""benchmarks/gpu_suite.sh in its CPU smoke mode, and bench_sampling's GPU checks (targets, FLOP floor, CUDA graphs)."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from learnedaug.models import build_model

REPO = Path(__file__).resolve().parents[1]
SUITE = REPO / "benchmarks" / "gpu_suite.sh"
STEPS = ("cuda_tests", "sampling", "transforms", "fid", "training")


def _bench_sampling():
    spec = importlib.util.spec_from_file_location("bench_sampling", REPO / "benchmarks" / "bench_sampling.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench = _bench_sampling()


def _tiny_cifar(root: Path) -> Path:
    """A random stand-in for CIFAR-10 in the shared-data layout (root/cifar10/train.npz), 2 images per class."""
    (root / "cifar10").mkdir(parents=True)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, size=(20, 32, 32, 3), dtype=np.uint8)
    np.savez_compressed(root / "cifar10" / "train.npz", x=x, y=np.arange(20, dtype=np.int64) % 10)
    return root


def _suite(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("LEARNEDAUG_REQUIRE_CUDA", "LEARNEDAUG_DATA")}
    return subprocess.run(["bash", str(SUITE), *args], cwd=REPO, capture_output=True, text=True, timeout=180,
                          env={**env, "PYTHON": sys.executable})


def test_smoke_mode_writes_every_result(tmp_path):
    out = tmp_path / "out"
    run = _suite("--smoke", "--out", str(out), "--data-root", str(_tiny_cifar(tmp_path / "data")))
    assert run.returncode == 0, run.stdout + run.stderr
    header = (out / "device.txt").read_text()
    assert header.splitlines()[0] == "device: cpu"
    summary = (out / "summary.md").read_text()
    for name in STEPS:
        assert (out / f"{name}.txt").stat().st_size > 0, name
        assert f"| {name} | ok |" in summary
    for name in ("history.json", "loss.png", "epoch_001.png"):
        assert (out / "training" / name).stat().st_size > 0, name
    assert "## targets" in (out / "sampling.txt").read_text()
    tests_log = (out / "cuda_tests.txt").read_text()  # the CUDA tests were found and skipped, none ran on CPU
    assert re.search(r"\b\d+ skipped\b", tests_log) and not re.search(r"passed|failed|error", tests_log), tests_log
    assert "0 step(s) failed" in summary


def test_spent_budget_records_every_step_as_failed(tmp_path):
    run = _suite("--smoke", "--out", str(tmp_path), "--budget", "0")
    assert run.returncode == 1
    summary = (tmp_path / "summary.md").read_text()
    assert summary.count("not run: the 0 s budget is spent") == len(STEPS)
    assert f"{len(STEPS)} step(s) failed" in summary


def test_bad_arguments_are_refused(tmp_path):
    run = _suite("--budget", "soon")
    assert run.returncode == 2
    assert "--budget must be a whole number of seconds, got 'soon'" in run.stderr
    run = _suite("--smoke", "--fast")
    assert run.returncode == 2
    assert "unknown argument '--fast'" in run.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_gpu_mode_without_cuda_exits_2(tmp_path):
    run = _suite("--out", str(tmp_path))
    assert run.returncode == 2
    assert "torch sees no CUDA device" in run.stderr


@pytest.mark.parametrize("family", bench.FAMILIES)
def test_graph_path_draws_what_sample_draws(family):
    torch.manual_seed(0)
    model = build_model(family, **bench.MNIST).eval()
    labels = torch.arange(6) % 10
    expected = model.sample(labels, generator=torch.Generator().manual_seed(3))
    got = bench.device_work(model, labels, torch.Generator().manual_seed(3))
    torch.testing.assert_close(got, expected)


@pytest.mark.cuda
def test_graph_replay_draws_what_sample_draws_on_cuda():
    device = torch.device("cuda")
    torch.manual_seed(0)
    model = build_model("cdcgan", **bench.MNIST).to(device).eval()
    labels = torch.arange(64, device=device) % 10
    g, out = torch.Generator(device), {}
    replay = bench.graph_replay(lambda: out.update(x=bench.device_work(model, labels, g)), g, device)
    g.manual_seed(5)
    replay()  # refills the captured output tensor with draws from g's current state
    torch.cuda.synchronize(device)
    torch.testing.assert_close(out["x"], model.sample(labels, generator=torch.Generator(device).manual_seed(5)))


def test_cuda_graphs_are_refused_on_cpu(capsys):
    with pytest.raises(SystemExit) as exit_info:
        bench.parse_args(["--cuda-graphs", "--device", "cpu"])
    assert exit_info.value.code == 2
    assert "--cuda-graphs needs a CUDA device (--device cuda), got --device cpu" in capsys.readouterr().err


def test_cuda_graphs_and_compile_exclude_each_other(capsys):
    with pytest.raises(SystemExit):
        bench.parse_args(["--cuda-graphs", "--compile", "--device", "cuda"])
    assert "not allowed with argument" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "dtype", "tf32", "tflops"),
    [("NVIDIA H200", "bf16", True, 989.5), ("NVIDIA H200", "fp16", True, 989.5), ("NVIDIA H200 NVL", "bf16", True, 835.5),
     ("NVIDIA H100 80GB HBM3", "fp32", False, 67.0), ("NVIDIA H100 80GB HBM3", "fp32", True, 494.5),
     ("NVIDIA H100 PCIe", "bf16", True, 756.0), ("NVIDIA H100 NVL", "fp32", False, 60.0)],
)
def test_peak_table(name, dtype, tf32, tflops):
    assert bench.peak_flops(name, dtype, tf32) == tflops * 1e12


@given(st.text(max_size=30).filter(lambda s: "H100" not in s and "H200" not in s), st.sampled_from(["fp32", "bf16", "fp16"]))
def test_unknown_devices_have_no_peak(name, dtype):
    assert bench.peak_flops(name, dtype, True) is None


def test_targets_report(capsys):
    rows = [("cdcgan", "bf16", 65536, 6.0e6, 400e12), ("dvae", "bf16", 16384, 1.0e6, 500e12),
            ("cdcgan", "fp32", 65536, 2.0e6, 50e12)]
    bench.report_targets(rows, "NVIDIA H200")
    out = capsys.readouterr().out
    assert "best 6,000,000 (cdcgan bf16, batch 65536): PASS" in out
    assert f"best 500.000 TFLOP/s (dvae, batch 16384): {500 / 989.5:.1%} of 989.5 TFLOP/s dense peak" in out
    tf32 = torch.backends.cudnn.allow_tf32
    assert f"{50 / (494.5 if tf32 else 67.0):.1%} of" in out
    bench.report_targets(rows[2:], "CPU, 2 threads")
    out = capsys.readouterr().out
    assert "best 2,000,000 (cdcgan fp32, batch 65536): MISS" in out
    assert "n/a (no peak figure for this device)" in out
