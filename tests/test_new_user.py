"""The new-user path, from a built wheel installed outside the repository (issue 16's evidence).

Builds the wheel offline, installs it with ``pip --target`` into a temporary folder and runs, from a working
directory outside the checkout: a transform pipeline in a 2-worker DataLoader, ``learnedaug train``,
``learnedaug sample`` and ``learnedaug fid --features domain``, all on a few real digits written to an ``.npz``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """(site folder holding the installed wheel, environment that imports it first)."""
    root = tmp_path_factory.mktemp("new_user")
    wheels, site = root / "wheels", root / "site"
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    build = subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", str(REPO), "-w", str(wheels)],
                           capture_output=True, text=True)
    if build.returncode != 0:
        pytest.skip(f"cannot build the wheel offline here: {build.stderr.strip().splitlines()[-1:]}")
    wheel = next(wheels.glob("learnedaug-*.whl"))
    subprocess.run([*pip, "install", "--no-deps", "--no-index", "--target", str(site), str(wheel)], check=True)
    env = {**os.environ, "PYTHONPATH": str(site), "LEARNEDAUG_HOME": str(root / "home")}
    env.pop("LEARNEDAUG_DATA", None)
    return site, env


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 240) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _cli(site: Path) -> list[str]:
    script = site / "bin" / "learnedaug"
    return [str(script)] if script.exists() else [sys.executable, "-m", "learnedaug.cli"]


def test_installed_wheel_is_the_one_imported(installed, tmp_path):
    site, env = installed
    out = _run([sys.executable, "-c", "import learnedaug, sys; print(learnedaug.__file__); "
                "print('torch' in sys.modules)"], tmp_path, env)
    path, torch_loaded = out.stdout.split()
    assert Path(path).resolve().is_relative_to(site.resolve())
    assert torch_loaded == "False"
    version = _run([*_cli(site), "--version"], tmp_path, env).stdout.strip()
    assert version.startswith("learnedaug ")


def test_pipeline_with_two_workers_gives_distinct_angles(installed, tmp_path):
    site, env = installed
    script = textwrap.dedent("""
        import json, torch
        from torch.utils.data import DataLoader, Dataset
        from learnedaug.transforms import RandomRotation

        class Same(Dataset):  # one asymmetric image repeated: any two equal outputs mean a repeated angle
            def __len__(self): return 16
            def __getitem__(self, i):
                x = torch.zeros(1, 16, 16); x[0, 2:6, 3:12] = 1.0; x[0, 6:14, 9:11] = 1.0
                return RAND(x), i

        RAND = RandomRotation(25, generator=0)
        loader = DataLoader(Same(), batch_size=4, num_workers=2, generator=torch.Generator().manual_seed(1))
        seen = []
        for epoch in range(2):
            for x, _ in loader:
                seen += [tuple(v.flatten().round(decimals=5).tolist()) for v in x]
        print(json.dumps({"n": len(seen), "distinct": len(set(seen))}))
    """)
    out = json.loads(_run([sys.executable, "-c", script], tmp_path, env).stdout.strip().splitlines()[-1])
    assert out == {"n": 32, "distinct": 32}


def test_train_sample_fid(installed, tmp_path):
    site, env = installed
    rng = np.random.default_rng(0)
    # Two small sets of recognisable strokes per class (stand-ins for a user's own labelled images).
    x = np.zeros((40, 28, 28), np.uint8)
    y = np.repeat(np.arange(4), 10)
    for i, label in enumerate(y):
        r, c = rng.integers(4, 10, size=2)
        x[i, r : r + 14, c + 3 * label : c + 3 * label + 4] = 255
    np.savez(tmp_path / "mine.npz", x=x, y=y)
    cli = _cli(site)
    _run([*cli, "train", "cdcvae", "--data", "mine.npz", "--epochs", "1", "--batch-size", "16", "--out", "run",
          "--device", "cpu", "--no-progress", "--set", "fc_dim=32", "--set", "base_channels=8"], tmp_path, env)
    model_dir = tmp_path / "run" / "model"
    assert (model_dir / "model.safetensors").is_file()
    _run([*cli, "sample", str(model_dir), "--out", "grid.png", "--n", "2"], tmp_path, env)
    assert (tmp_path / "grid.png").stat().st_size > 0
    _run([*cli, "sample", str(model_dir), "--out", "fake.npz", "--n", "10"], tmp_path, env)
    with np.load(tmp_path / "fake.npz") as f:
        assert f["x"].shape == (40, 28, 28) and f["x"].dtype == np.uint8
    fid = _run([*cli, "fid", "mine.npz", "fake.npz", "--features", "domain", "--json", "--quiet",
                "--device", "cpu"], tmp_path, env)
    result = json.loads(fid.stdout.strip().splitlines()[-1])
    assert np.isfinite(result["fid"]) and result["fid"] >= 0
    failed = subprocess.run([*cli, "sample", "no-such-model", "--out", "x.png"], cwd=tmp_path, env=env,
                            capture_output=True, text=True)
    assert failed.returncode != 0 and "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1 and "no-such-model" in failed.stderr
