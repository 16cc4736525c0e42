"""The zoo ships inside the package: a wheel built from this checkout carries every card and weights file, and an
install of it loads a pretrained model offline, without the source checkout."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")
setuptools = pytest.importorskip("setuptools")

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
pytestmark = pytest.mark.skipif(not PYPROJECT.is_file() or not (ROOT / "model_zoo").is_dir(),
                                reason="needs the source checkout")


def test_package_list_is_complete():
    """pyproject lists packages explicitly (for the model_zoo mapping): every package under learnedaug/ is in it."""
    tool = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["tool"]["setuptools"]
    found = set(setuptools.find_packages(str(ROOT), include=["learnedaug*"]))
    assert found | {"learnedaug.zoo.model_zoo", "learnedaug.zoo.model_zoo.weights"} == set(tool["packages"])
    assert tool["package-dir"] == {"learnedaug.zoo.model_zoo": "model_zoo"}


@pytest.mark.slow
def test_wheel_install_loads_a_zoo_model_offline(tmp_path):
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(wheels), str(ROOT)], check=True,
                   cwd=tmp_path, capture_output=True)
    (wheel,) = wheels.glob("learnedaug-*.whl")
    subprocess.run([*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, capture_output=True)
    cards = sorted(p.name for p in (ROOT / "model_zoo").glob("*.json"))
    script = (
        "import json, learnedaug, torch\n"
        "from learnedaug.zoo import list_models, load\n"
        "names = list_models()\n"
        "model = load(names[0], progress=False)\n"
        "x = model.sample(torch.arange(model.num_classes), generator=torch.Generator().manual_seed(0))\n"
        "print(json.dumps({'file': learnedaug.__file__, 'names': names, 'shape': list(x.shape)}))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(target), "LEARNEDAUG_OFFLINE": "1", "LEARNEDAUG_HOME": str(tmp_path / "h")}
    env.pop("LEARNEDAUG_ZOO_PATH", None)
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(got["file"]).is_relative_to(target)  # the installed copy, not this checkout
    assert sorted(n + ".json" for n in got["names"]) == cards
    assert got["shape"][0] == 10
