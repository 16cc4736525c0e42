"""fit(): training runs, writes its reports, validates input, keeps the caller's RNG, early-stops on validation loss.

A tiny conditional VAE (defined here, also used by test_resume / test_ddp / test_cli) keeps every run to a fraction
of a second; the real families are exercised in test_cli and the benchmark.
"""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from torch import nn
from torch.nn import functional as F
from torch.utils.data import Dataset

from learnedaug._random import randn
from learnedaug.data import ImageSet
from learnedaug.models.base import GenerativeModel, ModelConfig
from learnedaug.train import fit, load_checkpoint
from learnedaug.train.loop import BEST_NAME, CHECKPOINT_NAME, MODEL_DIRNAME
from learnedaug.train.objectives import Recipe


# ---- a tiny model and objective following the library's contracts --------------------------------
@dataclasses.dataclass
class TinyConfig(ModelConfig):
    latent_dim: int = 3
    hidden: int = 16


class TinyVAE(GenerativeModel):
    """Conditional MLP VAE with BatchNorm (buffers) and Dropout (global RNG) so the loop's state handling is tested."""

    family = "tiny_test_vae"
    config_class = TinyConfig

    def __init__(self, config: TinyConfig) -> None:
        super().__init__(config)
        c, k = config, config.num_classes
        d = math.prod(c.image_shape)
        self.encoder = nn.Sequential(
            nn.Linear(d + k, c.hidden), nn.BatchNorm1d(c.hidden), nn.ReLU(), nn.Dropout(0.1), nn.Linear(c.hidden, 2 * c.latent_dim)
        )
        self.decoder = nn.Sequential(nn.Linear(c.latent_dim + k, c.hidden), nn.ReLU(), nn.Linear(c.hidden, d))

    def encode(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(torch.cat([x.flatten(1), F.one_hot(y, self.num_classes).float()], 1))
        mu, log_var = h.chunk(2, dim=1)
        return mu, torch.exp(0.5 * log_var)

    def decode_logits(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        out = self.decoder(torch.cat([z, F.one_hot(y, self.num_classes).float()], 1))
        return out.view(-1, *self.image_shape)

    @torch.no_grad()
    def sample(self, labels: torch.Tensor, *, generator: torch.Generator | None = None) -> torch.Tensor:
        z = randn((labels.shape[0], self.config.latent_dim), generator=generator, device=self.device)
        return torch.sigmoid(self.decode_logits(z, labels.to(self.device)))


class TinyELBO:
    """BCE + KL with one Adam optimizer named "vae"."""

    name = "tiny_elbo"

    def __init__(self, lr: float = 1e-2) -> None:
        self.lr = lr

    def configure_optimizers(self, model: nn.Module) -> dict[str, torch.optim.Optimizer]:
        return {"vae": torch.optim.Adam(model.parameters(), lr=self.lr)}

    def losses(self, model, images, labels, generator=None) -> tuple[torch.Tensor, torch.Tensor]:
        mu, std = model.encode(images, labels)
        z = mu + std * randn(mu.shape, generator=generator, device=mu.device)
        logits = model.decode_logits(z, labels)
        recon = F.binary_cross_entropy_with_logits(logits.float(), images, reduction="none").flatten(1).sum(1).mean()
        kl = 0.5 * (mu.float().square() + std.float().square() - 1 - 2 * torch.log(std.float())).sum(1).mean()
        return recon, kl

    def training_step(self, model, images, labels, step, *, generator=None) -> dict[str, float]:
        recon, kl = self.losses(model, images, labels, generator)
        loss = recon + kl
        step("vae", loss)
        return {"loss": loss.item(), "recon": recon.item(), "kl": kl.item()}

    @torch.no_grad()
    def validation_loss(self, model, images, labels) -> float:
        recon, kl = self.losses(model, images, labels)
        return float(recon + kl)


class Blobs(Dataset):
    """``n`` float (1, 6, 6) images in [0, 1]: class c lights row c; item ``i`` carries ``i / 256`` at pixel (0, 5)."""

    def __init__(self, n: int = 48, num_classes: int = 3, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        self.labels = torch.arange(n) % num_classes
        self.images = 0.2 * torch.rand(n, 1, 6, 6, generator=g)
        for i, c in enumerate(self.labels.tolist()):
            self.images[i, 0, c] = 0.9
        self.images[:, 0, 0, 5] = torch.arange(n) / 256.0

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        return self.images[i], int(self.labels[i])


def tiny_model(seed: int = 0, num_classes: int = 3) -> TinyVAE:
    torch.manual_seed(seed)
    return TinyVAE(TinyConfig(num_classes=num_classes, image_shape=(1, 6, 6)))


def states_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)


def run(tmp_path, name="run", *, epochs=3, model=None, dataset=None, objective=None, **kw):
    kw.setdefault("progress", False)
    kw.setdefault("sample_every", 0)  # PNG reports cost more than these tiny epochs; test_fit_trains... checks them
    model = tiny_model() if model is None else model
    dataset = Blobs() if dataset is None else dataset
    return fit(model, dataset, epochs=epochs, batch_size=8, out_dir=tmp_path / name,
               objective=objective or TinyELBO(), **kw)


# ---- tests -----------------------------------------------------------------------------------------
def test_fit_trains_and_writes_reports(tmp_path):
    result = run(tmp_path, epochs=4, sample_every=1)
    losses = [row["loss"] for row in result.history]
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4]
    assert losses[-1] < 0.8 * losses[0]
    assert {"loss", "recon", "kl", "seconds"} <= set(result.history[0])
    out = result.out_dir
    assert json.loads((out / "history.json").read_text()) == result.history
    grid = Image.open(out / "samples" / "epoch_004.png")
    # make_grid: 8 columns, one row per class, 2 px padding around 6 px images.
    assert grid.size == (8 * 8 + 2, 3 * 8 + 2)
    assert sorted(p.name for p in (out / "samples").iterdir()) == [f"epoch_00{e}.png" for e in (1, 2, 3, 4)]
    assert Image.open(out / "loss.png").format == "PNG"
    assert not list(out.rglob(".*.tmp"))  # atomic writes leave nothing behind
    reloaded = GenerativeModel.from_pretrained(result.model_dir)
    assert states_equal(reloaded.state_dict(), result.model.state_dict())
    tensors, meta = load_checkpoint(out / CHECKPOINT_NAME)
    assert meta["epoch"] == 4 and meta["history"] == result.history
    assert {k for k in tensors if k.startswith("optim/vae/")}  # Adam moments are in the checkpoint


def test_same_seed_same_weights_other_seed_differs(tmp_path):
    a = run(tmp_path, "a", epochs=2, seed=5).model.state_dict()
    b = run(tmp_path, "b", epochs=2, seed=5).model.state_dict()
    c = run(tmp_path, "c", epochs=2, seed=6).model.state_dict()
    assert states_equal(a, b)
    assert not states_equal(a, c)


def test_caller_rng_untouched(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(4)
    torch.manual_seed(123)
    run(tmp_path, epochs=1, model=TinyVAE(TinyConfig(num_classes=3, image_shape=(1, 6, 6))))
    assert not torch.equal(torch.rand(4), expected)  # model construction drew from it ...
    torch.manual_seed(123)
    model = TinyVAE(TinyConfig(num_classes=3, image_shape=(1, 6, 6)))
    after_init = torch.get_rng_state()
    run(tmp_path, "second", epochs=1, model=model, dataset=NoisyBlobs())
    assert torch.equal(torch.get_rng_state(), after_init)  # ... fit did not, even with a random per-item transform


class NoisyBlobs(Blobs):
    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        image, label = super().__getitem__(i)
        return (image + 0.05 * torch.rand(image.shape)).clamp(0, 1), label  # draws from the global RNG


def test_uint8_imageset_matches_float_dataset(tmp_path):
    blobs = Blobs()
    u8 = (blobs.images * 255).round().to(torch.uint8)
    as_float = ImageSet(u8, blobs.labels, ["a", "b", "c"])
    float_ds = torch.utils.data.TensorDataset(u8.float() / 255, blobs.labels)  # labels as 0-d tensors
    a = run(tmp_path, "u8", epochs=1, dataset=ImageSet(u8, blobs.labels, ["a", "b", "c"]).with_transform(None))
    b = run(tmp_path, "f", epochs=1, dataset=float_ds)
    c = run(tmp_path, "set", epochs=1, dataset=as_float)
    assert states_equal(a.model.state_dict(), b.model.state_dict())
    assert states_equal(a.model.state_dict(), c.model.state_dict())


def test_bf16_autocast_on_cpu(tmp_path):
    result = run(tmp_path, epochs=2, amp=True)
    assert all(math.isfinite(row["loss"]) for row in result.history)
    assert all(p.dtype == torch.float32 for p in result.model.parameters())


class TwoOptimizers(TinyELBO):
    """Encoder and decoder stepped separately, like a GAN's "d" then "g"; records gradients seen at entry."""

    def __init__(self) -> None:
        super().__init__()
        self.grads_at_entry: list[bool] = []

    def configure_optimizers(self, model):
        return {"enc": torch.optim.SGD(model.encoder.parameters(), lr=0.01),
                "dec": torch.optim.SGD(model.decoder.parameters(), lr=0.01)}

    def training_step(self, model, images, labels, step, *, generator=None):
        self.grads_at_entry.append(any(p.grad is not None for p in model.parameters()))
        recon, kl = self.losses(model, images, labels, generator)
        step("enc", recon + kl)
        assert all(p.grad is None for p in model.parameters())  # the decoder's gradients were cleared too
        recon, _ = self.losses(model, images, labels, generator)
        step("dec", recon)
        return {"enc": (recon + kl).item(), "dec": recon.item()}


def test_several_optimizers_get_clean_gradients(tmp_path):
    objective = TwoOptimizers()
    result = run(tmp_path, epochs=1, objective=objective)
    assert objective.grads_at_entry and not any(objective.grads_at_entry)
    assert {"enc", "dec"} <= set(result.history[0])
    with pytest.raises(KeyError, match="'nope'"):
        run(tmp_path, "bad", epochs=1, objective=type("Bad", (TinyELBO,), {
            "training_step": lambda self, m, x, y, step, generator=None: step("nope", x.sum())})())


class ScriptedValidation(TinyELBO):
    def __init__(self, values: list[float]) -> None:
        super().__init__()
        self.values = list(values)

    def validation_loss(self, model, images, labels) -> float:
        return self.values.pop(0)


def test_early_stopping_keeps_best_epoch(tmp_path):
    # 48 * 0.25 = 12 validation images -> two batches of 8 and 4 per epoch, hence each value twice.
    values = [5.0, 5.0, 3.0, 3.0, 4.0, 4.0, 4.5, 4.5, 9.0, 9.0]
    result = run(tmp_path, epochs=10, objective=ScriptedValidation(values), val_fraction=0.25, patience=2)
    assert [row["val_loss"] for row in result.history] == [5.0, 3.0, 4.0, 4.5]
    assert result.stopped_early and result.best_epoch == 2 and result.epochs_completed == 4
    best = run(tmp_path, "two", epochs=2, objective=ScriptedValidation(values[:4]), val_fraction=0.25).model.state_dict()
    assert states_equal(result.model.state_dict(), best)  # epoch 2's weights, not epoch 4's
    assert states_equal(GenerativeModel.from_pretrained(result.model_dir).state_dict(), best)
    assert not (result.out_dir / BEST_NAME).exists()  # model/ holds the same weights in float32
    # A stopped run does not train further when resumed; the kept weights come back from model/.
    again = run(tmp_path, epochs=10, objective=ScriptedValidation([]), val_fraction=0.25, patience=2, resume=True)
    assert again.epochs_completed == 4 and states_equal(again.model.state_dict(), best)


def test_interrupted_early_stopping_run_resumes_from_best_file(tmp_path):
    """Before the run has finished, best.safetensors holds the kept weights; a resume reads them from there."""
    values = [5.0, 5.0, 3.0, 3.0, 4.0, 4.0, 4.5, 4.5, 9.0, 9.0]
    straight = run(tmp_path, "straight", epochs=10, objective=ScriptedValidation(values), val_fraction=0.25, patience=2)
    run(tmp_path, "cut", epochs=3, objective=ScriptedValidation(values[:6]), val_fraction=0.25, patience=2)
    (tmp_path / "cut" / MODEL_DIRNAME).rename(tmp_path / "elsewhere")  # as if the process died before the export
    assert (tmp_path / "cut" / BEST_NAME).exists() is False  # the finished 3-epoch run already folded it into model/
    run(tmp_path, "cut2", epochs=3, objective=ScriptedValidation(values[:6]), val_fraction=0.25, patience=2,
        export_dtype=torch.float16)
    assert (tmp_path / "cut2" / BEST_NAME).exists()  # a float16 model/ is not exact: the float32 file stays
    resumed = run(tmp_path, "cut2", epochs=10, objective=ScriptedValidation(values[6:]), val_fraction=0.25, patience=2,
                  resume=True)
    assert resumed.best_epoch == 2 and states_equal(resumed.model.state_dict(), straight.model.state_dict())
    with pytest.raises(FileNotFoundError, match="kept weights"):
        run(tmp_path, "cut", epochs=10, objective=ScriptedValidation([]), val_fraction=0.25, patience=2, resume=True)


def test_defaults_come_from_the_objective_recipe(tmp_path):
    class WithRecipe(TinyELBO):
        recipe = Recipe(batch_size=4, epochs=2, val_fraction=0.25, patience=None)

    result = fit(tiny_model(), Blobs(), out_dir=tmp_path / "r", objective=WithRecipe(), progress=False, sample_every=0)
    assert result.epochs_completed == 2 and "val_loss" in result.history[0]
    assert load_checkpoint(result.checkpoint)[1]["batch_size"] == 4
    assert "val_loss" not in run(tmp_path, "plain", epochs=1).history[0]  # TinyELBO: no recipe, no split
    with pytest.raises(ValueError, match="epochs is required"):
        fit(tiny_model(), Blobs(), out_dir=tmp_path / "x", objective=TinyELBO(), batch_size=8, progress=False)


def test_fit_tells_the_objective_the_training_set_size(tmp_path):
    class Sized(TinyELBO):
        def setup(self, model, train_set):
            self.n_train = len(train_set)

    objective = Sized()
    run(tmp_path, epochs=1, objective=objective, val_fraction=0.25)
    assert objective.n_train == 36  # Blobs() holds 48 images; 25 % are held out


def test_what_stays_on_disk(tmp_path):
    from learnedaug.models.base import WEIGHTS_NAME

    full = run(tmp_path, "full", epochs=1)
    lean = run(tmp_path, "lean", epochs=1, optimizer_state=False, export_dtype=torch.float16)
    assert load_checkpoint(lean.checkpoint)[1]["optimizers"] is None
    assert lean.checkpoint.stat().st_size < full.checkpoint.stat().st_size
    half = load_file(lean.model_dir / WEIGHTS_NAME)
    assert all(v.dtype == torch.float16 for v in half.values() if v.is_floating_point())
    assert states_equal(GenerativeModel.from_pretrained(lean.model_dir).state_dict(),
                        {k: v.half().float() if v.is_floating_point() else v for k, v in full.model.state_dict().items()})
    gone = run(tmp_path, "gone", epochs=1, keep_checkpoint=False)
    assert gone.checkpoint is None and not (tmp_path / "gone" / CHECKPOINT_NAME).exists()
    assert gone.disk_bytes == sum(p.stat().st_size for p in (tmp_path / "gone").rglob("*") if p.is_file())
    assert gone.disk_bytes < full.disk_bytes
    with pytest.warns(UserWarning, match="no optimizer state"):
        run(tmp_path, "lean", epochs=2, optimizer_state=False, resume=True)
    with pytest.raises(TypeError, match="export_dtype"):
        run(tmp_path, "bad", epochs=1, export_dtype=torch.int8)


# ---- input validation ------------------------------------------------------------------------------
class Items(Dataset):
    def __init__(self, items):
        self.items = items

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


GOOD = torch.full((1, 6, 6), 0.5)


@pytest.mark.parametrize(
    "items, error, match",
    [
        ([], ValueError, "empty"),
        ([(GOOD, 0), (GOOD * 3, 1)], ValueError, r"dataset\[1\].*\[0, 1\].*1\.5"),
        ([(GOOD, 0), (torch.zeros(1, 5, 6), 1)], ValueError, r"dataset\[1\].*\(1, 5, 6\).*\(1, 6, 6\)"),
        ([(GOOD, 0), (GOOD, 3)], ValueError, r"dataset\[1\] label 3 is outside \[0, 3\)"),
        ([(GOOD, -1)], ValueError, r"label -1"),
        ([(GOOD, 1.0)], TypeError, r"label must be an int"),
        ([(Image.new("L", (6, 6)), 1)], TypeError, r"must be a torch.Tensor \(C, H, W\), got Image"),
        ([(GOOD.to(torch.int32), 1)], TypeError, r"int32"),
        ([(GOOD * float("nan"), 1)], ValueError, r"\[0, 1\]"),
        ([GOOD], ValueError, r"\(image, label\) pair"),
    ],
)
def test_bad_dataset_rejected_before_training(tmp_path, items, error, match):
    with pytest.raises(error, match=match):
        run(tmp_path, dataset=Items(items))
    assert not (tmp_path / "run" / CHECKPOINT_NAME).exists()


def test_imageset_with_wrong_shape_or_classes_rejected(tmp_path):
    u8 = torch.zeros(4, 1, 6, 6, dtype=torch.uint8)
    with pytest.raises(ValueError, match=r"dataset\[2\] label 5"):
        run(tmp_path, dataset=ImageSet(u8, torch.tensor([0, 1, 5, 2]), [str(i) for i in range(6)]))
    with pytest.raises(ValueError, match=r"\(1, 8, 8\).*\(1, 6, 6\)"):
        run(tmp_path, dataset=ImageSet(torch.zeros(4, 1, 8, 8, dtype=torch.uint8), torch.zeros(4, dtype=torch.int64), ["a"]))


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"epochs": 0}, "epochs must be an int in \\[1, inf\\]"),
        ({"batch_size": 0}, "batch_size must be an int in \\[1, inf\\]"),
        ({"amp": "fp8"}, "amp must be"),
        ({"val_fraction": 1.0}, r"val_fraction must be in \[0, 1\)"),
        ({"sample_every": -1}, "sample_every"),
        ({"num_workers": -2}, "num_workers"),
        ({"grad_clip": 0.0}, "grad_clip"),
        ({"patience": 0}, "patience"),
    ],
)
def test_bad_arguments(tmp_path, kw, match):
    args = {"epochs": 1, "batch_size": 8, **kw}
    with pytest.raises(ValueError, match=match):
        fit(tiny_model(), Blobs(), out_dir=tmp_path, objective=TinyELBO(), progress=False, **args)


def test_existing_checkpoint_needs_resume(tmp_path):
    run(tmp_path, epochs=1)
    with pytest.raises(FileExistsError, match="resume=True"):
        run(tmp_path, epochs=1)


# ---- the real families -------------------------------------------------------------------------------
def test_classvae_classes_stop_one_by_one(tmp_path):
    """ClassVAE early-stops per class: a stopped class's VAE is frozen and its best epoch's weights are kept."""
    from learnedaug.models import build_model
    from learnedaug.train.objectives import ClassELBO

    class Scripted(ClassELBO):
        # Class 0 keeps improving; class 1 is best at epoch 1 and worse afterwards (patience 1 -> stops at epoch 2).
        script = [[5.0, 5.0], [4.0, 6.0], [3.0, 7.0], [2.0, 8.0]]

        def per_class_validation_loss(self, model, images, labels):
            return torch.tensor(self.script.pop(0), dtype=torch.float64)

    torch.manual_seed(0)
    model = build_model("classvae", num_classes=2, image_shape=(1, 6, 6), filters=4, fc_dim=8, latent_dim=2)
    data = Blobs(40, num_classes=2)  # 15 % -> 6 validation images: one validation batch per epoch
    snapshots = []

    class Recording(Scripted):
        def training_step(self, model, images, labels, step, *, generator=None):
            if not snapshots or snapshots[-1][0] != len(self.script):
                snapshots.append((len(self.script), {k: v.clone() for k, v in model.state_dict().items()}))
            return super().training_step(model, images, labels, step, generator=generator)

    result = run(tmp_path, epochs=4, model=model, dataset=data, objective=Recording(), patience=1)
    assert result.best_epochs == [4, 1] and result.best_epoch == 4 and result.stopped_early
    assert [row["epoch"] for row in result.history] == [1, 2, 3, 4]
    start_of_epoch_2, start_of_epoch_3 = snapshots[1][1], snapshots[2][1]
    final = result.model.state_dict()
    for k in final:
        assert torch.equal(final[k][1], start_of_epoch_2[k][1])  # class 1: weights after epoch 1
        assert not torch.equal(final[k][0], start_of_epoch_3[k][0])  # class 0 kept training
    # after class 1 stopped (end of epoch 2) its VAE did not move
    ckpt = {k[len("model/"):]: v for k, v in load_checkpoint(result.checkpoint)[0].items() if k.startswith("model/")}
    for k in final:
        assert torch.equal(ckpt[k][1], start_of_epoch_3[k][1])


@pytest.mark.parametrize("family", ["cdcvae", "cdcgan", "classvae", "dvae", "warpvae"])
def test_every_family_trains_with_its_default_objective(tmp_path, family):
    from learnedaug.models import build_model

    small = {"cdcvae": {"fc_dim": 16, "base_channels": 4}, "cdcgan": {"fc_dim": 16, "base_channels": 4},
             "classvae": {"fc_dim": 8, "filters": 4}, "dvae": {"channels": (4, 8), "latent_dim": 4},
             "warpvae": {"channels": (4, 8), "grid": 2}}[family]
    torch.manual_seed(0)
    model = build_model(family, num_classes=3, image_shape=(1, 28, 28), **small)
    blobs = Blobs(24)
    data = torch.utils.data.TensorDataset(torch.nn.functional.interpolate(blobs.images, size=28), blobs.labels)
    result = fit(model, data, epochs=1, batch_size=8, out_dir=tmp_path, progress=False, sample_every=0)  # default objective
    assert all(math.isfinite(v) for v in result.history[0].values())
    again = GenerativeModel.from_pretrained(result.model_dir)
    assert states_equal(again.state_dict(), result.model.state_dict())


def test_a_recipe_of_steps_sizes_the_epochs_and_clips(tmp_path):
    class InSteps(TwoOptimizers):
        recipe = Recipe(batch_size=8, steps=20, grad_clip=1e-3)

    model = tiny_model()
    before = [p.detach().clone() for p in model.encoder.parameters()]
    result = fit(model, Blobs(), out_dir=tmp_path, objective=InSteps(), progress=False, sample_every=0)
    assert result.epochs_completed == 4  # 48 images: 6 full batches of 8 per epoch, ceil(20 / 6) epochs
    moved = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.encoder.parameters(), before)))
    assert 0 < moved <= 24 * 0.01 * 1e-3 * (1 + 1e-5)  # 24 SGD steps at lr 0.01, each clipped to norm 1e-3
    free = tiny_model()  # grad_clip=inf turns the recipe's clipping off: the same steps move further
    fit(free, Blobs(), out_dir=tmp_path / "free", objective=InSteps(), progress=False, sample_every=0,
        grad_clip=float("inf"))
    moved_free = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(free.encoder.parameters(), before)))
    assert moved_free > 24 * 0.01 * 1e-3 * 1.5
    assert Recipe(batch_size=64, steps=2000).epochs_for(50, 64) == 2000  # fewer images than a batch: one step
    assert Recipe(batch_size=64, steps=2000).epochs_for(6400, 64) == 20
    with pytest.raises(ValueError, match="epochs or steps, exactly one"):
        Recipe(batch_size=8, epochs=2, steps=10)


def test_grad_clip_bounds_each_update(tmp_path):
    model = tiny_model()
    before = [p.detach().clone() for p in model.encoder.parameters()]
    run(tmp_path, epochs=1, model=model, objective=TwoOptimizers(), grad_clip=1e-3)
    moved = torch.sqrt(sum(((p.detach() - b) ** 2).sum() for p, b in zip(model.encoder.parameters(), before)))
    # SGD lr 0.01, 6 steps, each clipped to norm 1e-3: the encoder moves at most 6e-5.
    assert 0 < moved <= 6 * 0.01 * 1e-3 * (1 + 1e-5)


def test_worker_processes_give_the_same_run(tmp_path):
    a = run(tmp_path, "w0", epochs=1)
    b = run(tmp_path, "w1", epochs=1, num_workers=1)
    assert states_equal(a.model.state_dict(), b.model.state_dict())
