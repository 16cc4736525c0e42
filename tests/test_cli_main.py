"""The top-level CLI: --version, one-line errors, lazy package import."""

import subprocess
import sys

import pytest

import learnedaug
from learnedaug._version import __version__
from learnedaug.cli import main


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"learnedaug {__version__}"


def test_unknown_model_is_one_line(capsys, tmp_path):
    assert main(["sample", "unknown-model", "--out", str(tmp_path / "x.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("learnedaug sample: error: ") and "unknown-model" in err and "known models" in err
    assert "\n" not in err and "Traceback" not in err


def test_debug_reraises(tmp_path):
    with pytest.raises(ValueError, match="unknown-model"):
        main(["--debug", "sample", "unknown-model", "--out", str(tmp_path / "x.png")])


def test_import_does_not_load_torch_and_all_names_resolve():
    code = "import sys, learnedaug; assert 'torch' not in sys.modules; print(learnedaug.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == __version__
    assert all(getattr(learnedaug, name) is not None for name in learnedaug.__all__)
    assert set(learnedaug.__all__) <= set(dir(learnedaug))
