"""FIDInceptionV3 against pytorch-fid's network: same weights file format, same 2048-d features."""

import argparse
import math

import pytest
import torch
import torchvision

pytorch_fid_inception = pytest.importorskip("pytorch_fid.inception")

from learnedaug.metrics import inception as fid_inception  # noqa: E402
from learnedaug.metrics.inception import FIDInceptionV3, convert_fid_weights, fid_inception_v3, read_fid_weights  # noqa: E402


def _reference_layout_state(seed: int) -> dict[str, torch.Tensor]:
    """Random weights in the layout of pt_inception-2015-12-05-6726825d.pth (torchvision Inception3, 1008 classes).

    He-scaled convolutions and perturbed BatchNorm statistics keep activations O(1) through all 94 layers, so the
    comparison is meaningful; the BatchNorm step counters are left out, as in old state dicts.
    """
    layout = torchvision.models.inception_v3(num_classes=1008, aux_logits=False, weights=None, init_weights=False)
    g = torch.Generator().manual_seed(seed)
    state = {}
    for k, v in layout.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        if k.endswith("weight") and v.ndim > 1:
            state[k] = torch.randn(v.shape, generator=g) * math.sqrt(2.0 / v[0].numel())
        elif k.endswith(("running_var", "bn.weight")):
            state[k] = 0.5 + torch.rand(v.shape, generator=g)
        else:
            state[k] = 0.1 * torch.randn(v.shape, generator=g)
    return state


@pytest.fixture(scope="module")
def state():
    return _reference_layout_state(0)


@pytest.fixture(scope="module")
def ours(state):
    return FIDInceptionV3().load_reference(state)


@pytest.fixture(scope="module")
def reference(state):
    mp = pytest.MonkeyPatch()
    # pytorch-fid fetches the weights inside fid_inception_v3(); hand it the random file contents instead.
    mp.setattr(pytorch_fid_inception, "load_state_dict_from_url", lambda *a, **k: state)
    net = pytorch_fid_inception.InceptionV3([3]).eval()
    mp.undo()
    return net


def _ref_features(reference, x):
    with torch.no_grad():
        return reference(x)[0].flatten(1)


@pytest.mark.parametrize("size", [28, 32, 64, 299])
def test_features_match_pytorch_fid(ours, reference, size):
    x = torch.rand(1, 3, size, size, generator=torch.Generator().manual_seed(size))
    with torch.no_grad():
        got = ours(x)
    want = _ref_features(reference, x)
    assert got.shape == (1, 2048) and got.dtype == torch.float32
    assert want.abs().mean() > 0.1  # activations survive the random network
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_grayscale_and_uint8_inputs(ours, reference):
    g = torch.Generator().manual_seed(1)
    gray = torch.randint(0, 256, (1, 1, 28, 28), generator=g, dtype=torch.uint8)
    with torch.no_grad():
        got = ours(gray)
    want = _ref_features(reference, gray.float().div(255).repeat(1, 3, 1, 1))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)


def test_fid_pooling_differs_from_stock_torchvision(state, ours):
    """The patched pools matter: torchvision's stock blocks with the same weights give other features."""
    stock = torchvision.models.inception_v3(num_classes=1008, aux_logits=False, weights=None, init_weights=False)
    stock.load_state_dict(state)
    stock.fc = torch.nn.Identity()
    stock.eval()
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ours_f = ours(x)
        stock_f = stock(FIDInceptionV3.preprocess(x))
    assert (ours_f - stock_f).abs().max() > 1e-2


def test_parameter_names_are_the_reference_files(state, ours):
    ours_keys = {k for k in ours.state_dict() if not k.endswith("num_batches_tracked")}
    assert ours_keys == {k for k in state if not k.startswith("fc.")}


def test_pth_is_read_weights_only_and_converts_to_safetensors(tmp_path, state, ours):
    pth = tmp_path / "pt_inception-2015-12-05-6726825d.pth"
    torch.save(state, pth)
    out = convert_fid_weights(pth, tmp_path / "fid_inception.safetensors")
    converted = read_fid_weights(out)
    assert set(converted) == {k for k in state if not k.startswith("fc.")}
    for path in (out, pth):
        loaded = fid_inception_v3(path).state_dict()
        assert all(torch.equal(loaded[k], v) for k, v in ours.state_dict().items())


def test_pickled_objects_are_refused(tmp_path):
    bad = tmp_path / "bad.pth"
    torch.save({"x": argparse.Namespace(a=1)}, bad)
    with pytest.raises(ValueError, match="weights-only"):
        read_fid_weights(bad)
    with pytest.raises(FileNotFoundError):
        read_fid_weights(tmp_path / "missing.pth")


def test_mismatched_state_dicts_are_named(state):
    incomplete = {k: v for k, v in state.items() if k != "Mixed_7c.branch_pool.conv.weight"}
    with pytest.raises(ValueError, match="Mixed_7c.branch_pool.conv.weight"):
        FIDInceptionV3().load_reference(incomplete)
    wrong = dict(state, **{"Conv2d_1a_3x3.conv.weight": torch.zeros(32, 1, 3, 3)})
    with pytest.raises(ValueError, match="Conv2d_1a_3x3.conv.weight"):
        FIDInceptionV3().load_reference(wrong)


def test_default_weights_come_through_the_zoo_downloader(tmp_path, state, monkeypatch):
    zoo = pytest.importorskip("learnedaug.zoo")
    pth = tmp_path / "w.pth"
    torch.save(state, pth)
    calls = []

    def fake_download(url, *, sha256=None, progress=True, **kwargs):
        calls.append((url, sha256))
        return pth

    monkeypatch.setattr(zoo, "download_file", fake_download)
    fid_inception_v3(progress=False)
    assert calls == [(fid_inception.FID_WEIGHTS_URL, fid_inception.FID_WEIGHTS_SHA256)]
    assert fid_inception.FID_WEIGHTS_SHA256.startswith("6726825d")  # the torch.hub prefix in the file name


@pytest.mark.parametrize("shape", [(2, 2, 32, 32), (3, 32, 32)])
def test_bad_input_shapes(ours, shape):
    with pytest.raises(ValueError, match="images"):
        ours(torch.rand(shape))
