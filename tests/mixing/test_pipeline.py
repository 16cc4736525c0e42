"""The worked example of docs/mixing.md, end to end: v2 transforms + MixedDataset in a 2-worker DataLoader +
LearnedVariation and BatchMixer in the loop, training a small classifier."""

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torchvision.transforms import v2

from learnedaug.data import ImageSet, load_npz
from learnedaug.metrics.classifiers import build_classifier
from learnedaug.mixing import BatchMixer, MixedDataset, SyntheticDataset
from learnedaug.transforms import LearnedVariation


def train(clf: torch.nn.Module, real: ImageSet, generator, *, epochs: int, batch_size: int, seed: int = 0) -> list[float]:
    augment = v2.RandomAffine(degrees=10, translate=(0.1, 0.1))
    real = real.with_transform(augment)
    synthetic = SyntheticDataset(generator, len(real) // 2, transform=augment, seed=seed)
    mixed = MixedDataset(real, synthetic, ratio=0.5)
    loader = DataLoader(mixed, batch_size=batch_size, shuffle=True, num_workers=2, drop_last=True)
    vary = LearnedVariation(generator, scale=1.0, p=0.3, generator=seed)
    mixer = BatchMixer(generator, ratio=0.25, mode="append", generator=seed)
    opt = torch.optim.Adam(clf.parameters(), lr=2e-3)
    losses = []
    for epoch in range(epochs):
        mixed.set_epoch(epoch)
        clf.train()
        for x, y in loader:
            x, y = vary(x, y)
            x, y = mixer(x, y)
            loss = F.cross_entropy(clf(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            assert x.shape[0] == y.shape[0] == batch_size + round(0.25 * batch_size)
            losses.append(loss.item())
    clf.eval()
    return losses


@torch.no_grad()
def accuracy(clf, data: ImageSet) -> float:
    return (clf(data.float_images()).argmax(1) == data.labels).float().mean().item()


@torch.no_grad()
def loss_on(clf, data: ImageSet) -> float:
    return F.cross_entropy(clf.eval()(data.float_images()), data.labels).item()


def test_pipeline_on_tiny_synthetic_data(fake_cls):
    gen = fake_cls()
    labels = torch.arange(200) % 4
    make = lambda seed: ImageSet(  # noqa: E731
        (gen.sample(labels, generator=torch.Generator().manual_seed(seed)) * 255).round().to(torch.uint8),
        labels, ["a", "b", "c", "d"])
    torch.manual_seed(0)
    clf = build_classifier("cnn", (1, 8, 8), 4, width=0.25)
    losses = train(clf, make(1), gen, epochs=2, batch_size=20)
    assert len(losses) == 2 * (300 // 20)
    assert all(torch.isfinite(torch.tensor(losses)))
    assert accuracy(clf, make(2)) > 0.9


def test_pipeline_on_real_mnist(shared_data):
    from learnedaug.models import build_model

    train_set, test_set = load_npz(shared_data / "mnist" / "train.npz"), load_npz(shared_data / "mnist" / "test.npz")
    real, held_out = train_set.subset(torch.arange(400)), test_set.subset(torch.arange(200))
    torch.manual_seed(0)
    vae = build_model("cdcvae", num_classes=10, image_shape=(1, 28, 28), fc_dim=32, base_channels=8).eval()
    clf = build_classifier("cnn", (1, 28, 28), 10, width=0.125, dropout=0.0)
    before = loss_on(clf, held_out)
    losses = train(clf, real, vae, epochs=1, batch_size=50)  # a few steps: 600 items (400 real + 200 synthetic)
    assert len(losses) == 12 and all(torch.isfinite(torch.tensor(losses)))
    assert loss_on(clf, held_out) < before  # real digits are learned even with an untrained generator mixed in
