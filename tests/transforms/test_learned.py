import numpy as np
import PIL.Image
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from learnedaug._random import randn
from learnedaug.transforms import Denoise, LearnedVariation


class FakeVAE(nn.Module):
    """vary = label-dependent shift + scaled noise, clamped; reconstruct = the scale-0 vary. Logs call sizes."""

    def __init__(self, num_classes=3, image_shape=(1, 6, 6), needs_labels=True):
        super().__init__()
        self.num_classes, self.image_shape, self.needs_labels = num_classes, tuple(image_shape), needs_labels
        self.shift = nn.Parameter(torch.linspace(-0.2, 0.2, num_classes), requires_grad=False)
        self.calls = []

    @property
    def device(self):
        return self.shift.device

    @torch.no_grad()
    def vary(self, images, labels, *, scale=1.0, generator=None):
        self.calls.append(images.shape[0])
        assert images.dtype == torch.float32 and images.device == self.device
        shift = self.shift[labels].view(-1, 1, 1, 1) if labels is not None else 0.0
        noise = randn(images.shape, generator=generator, device=self.device)
        return (images + shift + 0.2 * scale * noise).clamp(0, 1)

    def reconstruct(self, images, labels=None):
        return self.vary(images, labels, scale=0.0)

    def sample(self, labels, *, generator=None):
        return torch.rand(len(labels), *self.image_shape, generator=generator)


def data(n=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 1, 6, 6, generator=g), torch.randint(0, 3, (n,), generator=g)


def test_batch_is_one_vary_call_matching_the_model():
    model = FakeVAE()
    x, y = data()
    out_x, out_y = LearnedVariation(model, scale=0.5, generator=3)(x, y)
    assert model.calls == [5] and out_y is y
    ref = model.vary(x, y, scale=0.5, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(out_x, ref, rtol=0, atol=0)


def test_per_sample_in_compose_keeps_type_dtype_and_label():
    model = FakeVAE()
    x, y = data(1)
    image = tv_tensors.Image(TF.to_dtype(x[0], torch.uint8, scale=True))
    pipeline = v2.Compose([LearnedVariation(model, generator=0), v2.RandomHorizontalFlip(p=0.0)])
    out, label = pipeline(image, int(y[0]))
    assert isinstance(out, tv_tensors.Image) and out.dtype == torch.uint8 and out.shape == (1, 6, 6)
    assert label == int(y[0])
    ref = model.vary(TF.to_dtype(image.as_subclass(torch.Tensor), torch.float32, scale=True)[None], y[:1],
                     generator=torch.Generator().manual_seed(0))[0]
    assert torch.equal(out.as_subclass(torch.Tensor), TF.to_dtype(ref, torch.uint8, scale=True))


def test_dict_sample_and_pil_image():
    model = FakeVAE(image_shape=(1, 4, 4))
    pil = PIL.Image.fromarray((torch.arange(16).view(4, 4) * 10).to(torch.uint8).numpy(), mode="L")
    out = LearnedVariation(model, scale=0.0)({"image": pil, "labels": 1})
    assert isinstance(out["image"], PIL.Image.Image) and out["image"].mode == "L" and out["labels"] == 1
    ref = model.vary(TF.to_dtype(TF.pil_to_tensor(pil), torch.float32, scale=True)[None], torch.tensor([1]), scale=0.0)
    assert torch.equal(TF.pil_to_tensor(out["image"]), TF.to_dtype(ref[0], torch.uint8, scale=True))


def test_p_selects_images_independently():
    model = FakeVAE()
    x, y = data(2000)
    out, _ = LearnedVariation(model, p=0.3, generator=1)(x, y)
    changed = (out != x).flatten(1).any(1)
    assert model.calls == [int(changed.sum())]  # only the chosen images reach the model, in one call
    assert abs(changed.float().mean().item() - 0.3) < 5 * (0.3 * 0.7 / 2000) ** 0.5
    model.calls.clear()
    out, _ = LearnedVariation(model, p=0.0)(x, y)
    assert torch.equal(out, x) and model.calls == []


def test_denoise_is_reconstruct():
    model = FakeVAE(needs_labels=False)
    x, _ = data()
    torch.testing.assert_close(Denoise(model)(x), model.reconstruct(x), rtol=0, atol=0)
    x, y = data()
    out, label = Denoise(FakeVAE())(x, y)
    torch.testing.assert_close(out, FakeVAE().reconstruct(x, y), rtol=0, atol=0)
    with pytest.raises(ValueError, match="class-conditional"):
        Denoise(FakeVAE(needs_labels=True))(x)


def test_refusals():
    model = FakeVAE()
    x, y = data()
    with pytest.raises(ValueError, match=r"\(3, 6, 6\) but the model makes \(1, 6, 6\)"):
        LearnedVariation(model)(torch.rand(5, 3, 6, 6), y)
    with pytest.raises(ValueError, match="needs the label"):
        LearnedVariation(model)(x)
    with pytest.raises(ValueError, match="before MixUp/CutMix"):
        LearnedVariation(model)(x, torch.zeros(5, 3))
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        LearnedVariation(model)(x, torch.tensor([0, 1, 2, 3, 0]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        LearnedVariation(model)(x * 255, y)
    with pytest.raises(ValueError, match="p must be"):
        LearnedVariation(model, p=1.5)
    with pytest.raises(ValueError, match="scale"):
        LearnedVariation(model, scale=-1)
    with pytest.raises(TypeError, match="vary"):
        LearnedVariation(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="reconstruct"):
        Denoise(nn.Linear(2, 2))
    with pytest.raises(ValueError, match="masks"):
        LearnedVariation(model)(tv_tensors.Image(x), tv_tensors.Mask(torch.zeros(5, 6, 6)), y)


def test_labels_as_users_hold_them():
    """npz-backed datasets give numpy int64 labels; plain lists and ints are accepted too; floats are refused."""
    model = FakeVAE()
    x, y = data()
    ref = LearnedVariation(model, scale=0.0)(x, y)[0]
    for labels in (y.numpy(), y.tolist(), y.to(torch.int32)):
        out, back = LearnedVariation(model, scale=0.0)(x, labels)
        assert torch.equal(out, ref)
        assert back == labels if isinstance(labels, list) else back is labels  # labels pass through untouched
    one = LearnedVariation(model, scale=0.0)(x[0], int(y[0]))[0]
    for label in (np.int64(y[0]), torch.tensor(int(y[0]))):
        assert torch.equal(LearnedVariation(model, scale=0.0)(x[0], label)[0], one)
    with pytest.raises(TypeError, match=r"LearnedVariation labels must be an int, got float 1.0"):
        LearnedVariation(model)(x[0], 1.0)
    with pytest.raises(TypeError, match="integer dtype"):
        LearnedVariation(model)(x, y.float().numpy())


@given(n=st.integers(1, 6), uint8=st.booleans(), batched=st.booleans(), p=st.sampled_from([0.0, 0.5, 1.0]),
       seed=st.integers(0, 2**31))
def test_properties(n, uint8, batched, p, seed):
    x, y = data(n, seed)
    if uint8:
        x = TF.to_dtype(x, torch.uint8, scale=True)
    sample = (x, y) if batched else (x[0], int(y[0]))
    out, label = LearnedVariation(FakeVAE(), p=p, generator=seed)(*sample)
    assert out.shape == sample[0].shape and out.dtype == sample[0].dtype and label is sample[1]
    if not uint8:
        assert 0 <= out.min() and out.max() <= 1
    again, _ = LearnedVariation(FakeVAE(), p=p, generator=seed)(*sample)
    assert torch.equal(again, out)


@pytest.fixture(scope="module")
def small_models():
    from learnedaug.models import build_model

    torch.manual_seed(0)
    vae = build_model("cdcvae", num_classes=10, image_shape=(1, 28, 28), fc_dim=32, base_channels=8).eval()
    dvae = build_model("dvae", num_classes=10, image_shape=(1, 28, 28), channels=(8, 16), latent_dim=8,
                       conditional=False).eval()
    return vae, dvae


def test_real_models(small_models):
    vae, dvae = small_models
    x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 3, 7, 9])
    out, _ = LearnedVariation(vae, scale=0.7, generator=5)(x, y)
    torch.testing.assert_close(out, vae.vary(x, y, scale=0.7, generator=torch.Generator().manual_seed(5)), rtol=0, atol=0)
    torch.testing.assert_close(Denoise(dvae)(x), dvae.reconstruct(x), rtol=0, atol=0)
    image, label = LearnedVariation(vae, generator=0)(tv_tensors.Image(x[0]), 3)
    assert isinstance(image, tv_tensors.Image) and image.shape == (1, 28, 28) and label == 3


@pytest.mark.cuda
def test_cuda_model_with_cpu_data():
    model = FakeVAE().cuda()
    x, y = data()
    out, _ = LearnedVariation(model, generator=torch.Generator("cuda").manual_seed(0))(TF.to_dtype(x, torch.uint8, scale=True), y)
    assert out.device.type == "cpu" and out.dtype == torch.uint8 and model.calls == [5]
