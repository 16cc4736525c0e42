"""Checkpoint/resume: an interrupted run resumed ends BIT-EXACT equal (torch.equal) to an uninterrupted one on CPU;
a NaN/inf loss stops training with a message naming epoch, step and loss, and leaves the last checkpoint intact."""

from __future__ import annotations

import hashlib

import pytest
import torch

from learnedaug.train import fit, load_checkpoint
from learnedaug.train.loop import BEST_NAME, CHECKPOINT_NAME

from test_loop import Blobs, TinyELBO, TwoOptimizers, run, states_equal, tiny_model


def optimizer_tensors(path) -> dict[str, torch.Tensor]:
    return {k: v for k, v in load_checkpoint(path)[0].items() if k.startswith("optim/")}


@pytest.mark.parametrize("val_fraction, patience", [(0.0, None), (0.25, 2)])
def test_resume_is_bit_exact(tmp_path, val_fraction, patience):
    kw = {"seed": 3, "val_fraction": val_fraction, "patience": patience}
    straight = run(tmp_path, "straight", epochs=4, model=tiny_model(0), **kw)
    run(tmp_path, "resumed", epochs=1, model=tiny_model(0), **kw)
    # A fresh process would build the model from scratch: other initial weights are overwritten by the checkpoint.
    resumed = run(tmp_path, "resumed", epochs=4, model=tiny_model(99), resume=True, **kw)
    assert states_equal(straight.model.state_dict(), resumed.model.state_dict())
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in straight.history]
    assert strip == [{k: v for k, v in row.items() if k != "seconds"} for row in resumed.history]
    assert states_equal(optimizer_tensors(straight.checkpoint), optimizer_tensors(resumed.checkpoint))
    if patience:
        assert straight.best_epoch == resumed.best_epoch
        assert not (tmp_path / "resumed" / BEST_NAME).exists()  # folded into the float32 model/ at the end


def test_resume_two_optimizers_bit_exact(tmp_path):
    straight = run(tmp_path, "straight", epochs=3, objective=TwoOptimizers())
    run(tmp_path, "resumed", epochs=2, objective=TwoOptimizers())
    resumed = run(tmp_path, "resumed", epochs=3, objective=TwoOptimizers(), resume=True)
    assert states_equal(straight.model.state_dict(), resumed.model.state_dict())


def test_resume_without_checkpoint_starts_fresh(tmp_path):
    a = run(tmp_path, "a", epochs=2)
    b = run(tmp_path, "b", epochs=2, resume=True)
    assert states_equal(a.model.state_dict(), b.model.state_dict())


def test_resume_past_the_end_trains_nothing(tmp_path):
    a = run(tmp_path, epochs=2)
    b = run(tmp_path, epochs=2, model=tiny_model(7), resume=True)
    assert b.epochs_completed == 2 and states_equal(a.model.state_dict(), b.model.state_dict())


@pytest.mark.parametrize("change, match", [({"seed": 1}, "seed=0.*seed=1"), ({"val_fraction": 0.25}, "val_fraction")])
def test_resume_refuses_another_setup(tmp_path, change, match):
    run(tmp_path, epochs=1)
    with pytest.raises(ValueError, match=match):
        run(tmp_path, epochs=2, resume=True, **change)


def test_resume_refuses_corrupt_checkpoint(tmp_path):
    run(tmp_path, epochs=1)
    (tmp_path / "run" / CHECKPOINT_NAME).write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="corrupt"):
        run(tmp_path, epochs=2, resume=True)


class NaNAt(TinyELBO):
    """Poisons the loss at (epoch, step): either the optimised loss or only a logged component."""

    def __init__(self, epoch: int, step: int, where: str = "loss") -> None:
        super().__init__()
        self.at, self.where, self.calls = (epoch, step), where, 0
        self.steps_per_epoch = 6  # Blobs(48) / batch 8

    def training_step(self, model, images, labels, step, *, generator=None):
        self.calls += 1
        here = divmod(self.calls - 1, self.steps_per_epoch)
        poison = (here[0] + 1, here[1] + 1) == self.at
        recon, kl = self.losses(model, images, labels, generator)
        if poison and self.where == "loss":
            recon = recon * float("nan")
        step("vae", recon + kl)
        return {"loss": (recon + kl).item(), "kl": float("inf") if poison else kl.item()}


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("where, match", [
    ("loss", r"loss of optimizer 'vae' is nan at epoch 2, step 3 of 6.*checkpoint .* \(epoch 1\) is untouched"),
    ("kl", r"loss 'kl' is inf at epoch 2, step 3 of 6"),
])
def test_nan_stops_and_keeps_last_checkpoint(tmp_path, where, match):
    good = run(tmp_path, epochs=1)
    ckpt = tmp_path / "run" / CHECKPOINT_NAME
    before = digest(ckpt)
    objective = NaNAt(2, 3, where)
    objective.calls = 6  # epoch 1 is restored from the checkpoint
    with pytest.raises(FloatingPointError, match=match):
        run(tmp_path, epochs=3, objective=objective, resume=True)
    assert digest(ckpt) == before
    assert not list((tmp_path / "run").rglob(".*.tmp"))
    # The checkpoint still resumes: a clean objective continues from epoch 1.
    resumed = run(tmp_path, epochs=2, resume=True)
    straight = run(tmp_path, "straight", epochs=2)
    assert states_equal(resumed.model.state_dict(), straight.model.state_dict())
    assert good.history[0]["loss"] == resumed.history[0]["loss"]


def test_nan_in_first_epoch_says_no_checkpoint(tmp_path):
    with pytest.raises(FloatingPointError, match="epoch 1, step 1 of 6.*no checkpoint was written yet"):
        run(tmp_path, epochs=2, objective=NaNAt(1, 1))
    assert not (tmp_path / "run" / CHECKPOINT_NAME).exists()


def test_resume_cdcgan_bit_exact(tmp_path):
    """The real GAN: two Adam optimizers, BatchNorm buffers, a frozen discriminator during the generator step."""
    from learnedaug.models import build_model

    def model():
        torch.manual_seed(0)
        return build_model("cdcgan", num_classes=3, image_shape=(1, 8, 8), fc_dim=16, base_channels=4, latent_dim=4)

    data = Blobs(32)
    data.images = torch.nn.functional.pad(data.images, (1, 1, 1, 1))  # (1, 8, 8): the GAN needs H, W divisible by 4

    def go(name, epochs, **extra):
        return fit(model(), data, epochs=epochs, batch_size=8, out_dir=tmp_path / name, progress=False, sample_every=0, **extra)

    straight = go("straight", 3)
    go("resumed", 1)
    resumed = go("resumed", 3, resume=True)
    assert states_equal(straight.model.state_dict(), resumed.model.state_dict())


def test_resume_fp16_keeps_grad_scaler_state(tmp_path):
    straight = run(tmp_path, "straight", epochs=3, amp="fp16")
    run(tmp_path, "resumed", epochs=1, amp="fp16")
    assert load_checkpoint(tmp_path / "resumed" / CHECKPOINT_NAME)[1]["scaler"]["scale"] > 0
    resumed = run(tmp_path, "resumed", epochs=3, amp="fp16", resume=True)
    assert states_equal(straight.model.state_dict(), resumed.model.state_dict())


def test_sparse_checkpoints_resume_bit_exact(tmp_path, monkeypatch):
    """checkpoint_every=2 writes epochs 2, 4 and the last one only; resuming from them repeats the straight run."""
    import learnedaug.train.loop as loop

    saved = []
    real_save = loop.save_checkpoint
    monkeypatch.setattr(loop, "save_checkpoint", lambda path, *a: (saved.append(a[-1]["epoch"]), real_save(path, *a)))
    straight = run(tmp_path, "straight", epochs=5, checkpoint_every=2)
    assert saved == [2, 4, 5]
    run(tmp_path, "resumed", epochs=2, checkpoint_every=2)
    resumed = run(tmp_path, "resumed", epochs=5, model=tiny_model(99), resume=True, checkpoint_every=2)
    assert states_equal(straight.model.state_dict(), resumed.model.state_dict())
    with pytest.raises(ValueError, match="checkpoint_every"):
        run(tmp_path, "bad", epochs=1, checkpoint_every=0)


def test_default_checkpoints_are_about_fifty_per_run(tmp_path, monkeypatch):
    """checkpoint_every=None: every ceil(epochs / 50) epochs and after the last (51 epochs -> 2, 4, ..., 50, 51)."""
    import learnedaug.train.loop as loop

    saved = []
    real_save = loop.save_checkpoint
    monkeypatch.setattr(loop, "save_checkpoint", lambda path, *a: (saved.append(a[-1]["epoch"]), real_save(path, *a)))
    run(tmp_path, "long", epochs=51, sample_every=0)
    assert saved == list(range(2, 51, 2)) + [51]
    saved.clear()
    run(tmp_path, "short", epochs=3, sample_every=0)
    assert saved == [1, 2, 3]  # short runs: every epoch
