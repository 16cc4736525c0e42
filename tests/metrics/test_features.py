"""Feature extractors: the domain classifier (training, save/load, features) and the Inception extractor."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from learnedaug.data import IMAGE_SUFFIXES, load_image_folder
from learnedaug.metrics.features import (
    DomainClassifier,
    DomainClassifierConfig,
    DomainExtractor,
    FeatureExtractor,
    FolderSource,
    InceptionExtractor,
    SetSizeWarning,
    extract_features,
    load_npz_images,
    open_source,
    train_domain_classifier,
)
from learnedaug.metrics.fid import compute_fid
from learnedaug.metrics.inception import FIDInceptionV3


def _bars(n, seed):
    """Two separable classes of noisy 16x16 images: a bright horizontal bar (0) or a vertical one (1)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    x = torch.rand(n, 1, 16, 16, generator=g) * 0.3
    pos = torch.randint(2, 14, (n,), generator=g)
    for i in range(n):
        if labels[i] == 0:
            x[i, 0, pos[i] - 1:pos[i] + 1, :] = 1.0
        else:
            x[i, 0, :, pos[i] - 1:pos[i] + 1] = 1.0
    return x, labels


def test_training_is_seeded_and_learns_separable_classes():
    x, y = _bars(256, 0)
    a = train_domain_classifier(x, y, epochs=3, batch_size=32, generator=7, progress=False)
    b = train_domain_classifier(x, y, epochs=3, batch_size=32, generator=7, progress=False)
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(va, vb), k
    xt, yt = _bars(200, 1)
    with torch.no_grad():
        accuracy = (a(xt).argmax(1) == yt).float().mean().item()
    assert accuracy > 0.95
    assert not a.training


def test_training_rejects_bad_input():
    x, y = _bars(8, 0)
    with pytest.raises(ValueError, match="labels has 7 entries"):
        train_domain_classifier(x, y[:7], progress=False)
    with pytest.raises(ValueError, match="num_classes must be >= 2"):
        train_domain_classifier(x, torch.zeros(8, dtype=torch.int64), progress=False)
    with pytest.raises(ValueError, match="epochs"):
        train_domain_classifier(x, y, epochs=0, progress=False)


def test_save_load_roundtrip_and_extractor(tmp_path):
    torch.manual_seed(0)
    clf = DomainClassifier(DomainClassifierConfig((3, 20, 24), num_classes=4, feature_dim=16))
    path = clf.save(tmp_path / "clf.safetensors")
    ext = DomainExtractor.from_file(path)
    assert isinstance(ext, FeatureExtractor) and ext.dim == 16
    assert ext.name == DomainExtractor(clf).name and ext.name.startswith("domain-")
    x = torch.rand(5, 3, 20, 24)
    feats = ext(x)
    assert feats.shape == (5, 16) and feats.dtype == torch.float32 and (feats >= 0).all()
    with torch.no_grad():
        torch.testing.assert_close(feats, clf.features(x))
        torch.testing.assert_close(ext((x * 255).round().to(torch.uint8)), clf.features((x * 255).round() / 255))
    other = DomainClassifier(DomainClassifierConfig((3, 20, 24), num_classes=4, feature_dim=16))
    assert DomainExtractor(other).name != ext.name  # the name keys caches, so it follows the weights
    with pytest.raises(ValueError, match=r"\(N, 3, 20, 24\)"):
        ext(torch.rand(2, 3, 20, 20))


def test_load_refuses_other_files(tmp_path):
    from safetensors.torch import save_file

    save_file({"w": torch.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match="not a domain classifier"):
        DomainClassifier.load(tmp_path / "other.safetensors")
    with pytest.raises(ValueError, match="image_shape"):
        DomainClassifierConfig((2, 28, 28))


def test_inception_extractor_with_given_network():
    torch.manual_seed(0)
    ext = InceptionExtractor(FIDInceptionV3())
    assert isinstance(ext, FeatureExtractor) and ext.dim == 2048 and ext.name.startswith("inception-")
    feats = extract_features(torch.rand(3, 1, 16, 16), ext, batch_size=2, progress=False)
    assert feats.shape == (3, 2048) and feats.dtype == torch.float32


def test_domain_fid_sees_blur_on_real_digits(shared_data):
    """On real MNIST a quickly trained domain extractor separates blurred digits from real ones."""
    train = load_npz_images(shared_data / "mnist" / "train.npz")
    test = load_npz_images(shared_data / "mnist" / "test.npz")
    clf = train_domain_classifier(train.images[:3000], train.labels[:3000], epochs=1, progress=False)
    ext = DomainExtractor(clf)
    real_a = test.images[:1000].float() / 255
    real_b = train.images[3000:4000].float() / 255
    blurred = TF.gaussian_blur(real_a, kernel_size=[9, 9], sigma=[1.5, 1.5])
    kw = dict(cache_dir=False, progress=False, batch_size=500)
    same = compute_fid(real_a, real_b, ext, **kw)
    blur = compute_fid(real_a, blurred, ext, **kw)
    assert np.isfinite(same) and blur > 3 * same


# ---- image folders and set sizes --------------------------------------------------------------------------------

GRAY_ONLY = {".pgm", ".gif"}  # PGM holds grayscale; a colour GIF would be palette-quantised
LOSSY = {".jpg", ".jpeg"}


@pytest.mark.parametrize("suffix", IMAGE_SUFFIXES)
def test_every_image_suffix_is_read_alike_by_image_folders_and_fid_folders(suffix, tmp_path):
    rng = np.random.default_rng(len(suffix))
    channels = 1 if suffix in GRAY_ONLY else 3
    pixels = rng.integers(0, 256, (3, 10, 9, channels), dtype=np.uint8)
    (tmp_path / "cls").mkdir()
    for i, arr in enumerate(pixels):
        im = Image.fromarray(arr[..., 0] if channels == 1 else arr)
        im.save(tmp_path / "cls" / f"{i}{suffix.upper() if i == 1 else suffix}", **({"lossless": True} if suffix == ".webp" else {}))
    by_data = load_image_folder(tmp_path).images
    source = FolderSource(tmp_path)
    by_fid = torch.cat(list(source.batches(2)))
    assert len(source) == 3 and by_fid.dtype == torch.uint8 and by_fid.shape == (3, channels, 10, 9)
    assert torch.equal(by_fid, by_data)
    if suffix not in LOSSY:
        assert torch.equal(by_fid, torch.from_numpy(pixels).permute(0, 3, 1, 2))


def test_a_set_smaller_than_n_warns_once_naming_it(tmp_path):
    images = torch.randint(0, 256, (5, 1, 8, 8), dtype=torch.uint8)
    np.savez(tmp_path / "small.npz", x=images[:, 0].numpy())
    with pytest.warns(SetSizeWarning) as caught:
        src = open_source(tmp_path / "small.npz", n=8)
    assert len(src) == 5 and len(caught) == 1
    assert str(caught[0].message).startswith(f"{tmp_path / 'small.npz'} has 5 images, fewer than n=8")
    assert "equal-size sets" in str(caught[0].message)
    with pytest.warns(SetSizeWarning, match="the Tensor set has 5 images"):
        open_source(images, n=6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(open_source(images, n=5)) == 5 and len(open_source(images, n=3)) == 3
