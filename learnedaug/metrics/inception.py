"""The FID Inception-v3: the network behind TTUR's and pytorch-fid's FID, returning 2048-d pool3 features.

It differs from torchvision's ``inception_v3`` in its pooling: the 3x3 average pools inside the Inception-A, -C and
first -E blocks ignore padded zeros (TensorFlow's ``avg_pool``), and the last -E block max-pools. Module and parameter
names are those of the reference weights file ``pt_inception-2015-12-05-6726825d.pth`` (torchvision's ``Inception3``
naming), so that file loads as is; its 1008-way classifier (``fc.*``) is not part of the feature network.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from .._checks import check_images
from .._io import atomic_path

FID_WEIGHTS_URL = (
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
)
# SHA-256 of the file above as published by several independent projects; its first 8 hex digits are the
# torch.hub hash prefix in the file name.
FID_WEIGHTS_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"
FEATURE_DIM = 2048
INPUT_SIZE = 299
_CLASSIFIER_PREFIX = "fc."


class BasicConv2d(nn.Module):
    """Conv (no bias) -> BatchNorm (eps 1e-3) -> ReLU; parameter names ``conv.*`` and ``bn.*``."""

    def __init__(self, in_channels: int, out_channels: int, **conv_kwargs) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, bias=False, **conv_kwargs)
        self.bn = nn.BatchNorm2d(out_channels, eps=0.001)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)), inplace=True)


def _tf_avg_pool(x: torch.Tensor) -> torch.Tensor:
    """3x3 stride-1 average pool that, like TensorFlow's, leaves padded zeros out of the average."""
    return F.avg_pool2d(x, kernel_size=3, stride=1, padding=1, count_include_pad=False)


class InceptionA(nn.Module):
    """Mixed_5b/5c/5d: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | avgpool(no pad count)-1x1."""

    def __init__(self, in_channels: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch5x5_1 = BasicConv2d(in_channels, 48, kernel_size=1)
        self.branch5x5_2 = BasicConv2d(48, 64, kernel_size=5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, padding=1)
        self.branch_pool = BasicConv2d(in_channels, pool_features, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([b1, b5, b3, bp], 1)


class InceptionB(nn.Module):
    """Mixed_6a, grid reduction 35 -> 17: 3x3/2 | 1x1-3x3-3x3/2 | maxpool/2."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3 = BasicConv2d(in_channels, 384, kernel_size=3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 64, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(64, 96, kernel_size=3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96, 96, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3(x)
        b3d = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b3d, bp], 1)


class InceptionC(nn.Module):
    """Mixed_6b..6e: 1x1 | 1x1-1x7-7x1 | 1x1-(7x1-1x7)x2 | avgpool(no pad count)-1x1."""

    def __init__(self, in_channels: int, channels_7x7: int) -> None:
        super().__init__()
        c7 = channels_7x7
        self.branch1x1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7_2 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(in_channels, c7, kernel_size=1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        b7d = self.branch7x7dbl_1(x)
        for conv in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            b7d = conv(b7d)
        bp = self.branch_pool(_tf_avg_pool(x))
        return torch.cat([b1, b7, b7d, bp], 1)


class InceptionD(nn.Module):
    """Mixed_7a, grid reduction 17 -> 8: 1x1-3x3/2 | 1x1-1x7-7x1-3x3/2 | maxpool/2."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.branch3x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch3x3_2 = BasicConv2d(192, 320, kernel_size=3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(in_channels, 192, kernel_size=1)
        self.branch7x7x3_2 = BasicConv2d(192, 192, kernel_size=(1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192, 192, kernel_size=(7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192, 192, kernel_size=3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        bp = F.max_pool2d(x, kernel_size=3, stride=2)
        return torch.cat([b3, b7, bp], 1)


class InceptionE(nn.Module):
    """Mixed_7b/7c: 1x1 | 1x1-(1x3, 3x1) | 1x1-3x3-(1x3, 3x1) | pool-1x1.

    ``pool="avg"`` (Mixed_7b) averages without counting padding; ``pool="max"`` (Mixed_7c) is the FID network's
    3x3 stride-1 max pool.
    """

    def __init__(self, in_channels: int, pool: str) -> None:
        super().__init__()
        if pool not in ("avg", "max"):
            raise ValueError(f"pool must be 'avg' or 'max', got {pool!r}")
        self.pool = pool
        self.branch1x1 = BasicConv2d(in_channels, 320, kernel_size=1)
        self.branch3x3_1 = BasicConv2d(in_channels, 384, kernel_size=1)
        self.branch3x3_2a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(in_channels, 448, kernel_size=1)
        self.branch3x3dbl_2 = BasicConv2d(448, 384, kernel_size=3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384, 384, kernel_size=(1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384, 384, kernel_size=(3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(in_channels, 192, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.branch1x1(x)
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        b3d = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        b3d = torch.cat([self.branch3x3dbl_3a(b3d), self.branch3x3dbl_3b(b3d)], 1)
        pooled = _tf_avg_pool(x) if self.pool == "avg" else F.max_pool2d(x, kernel_size=3, stride=1, padding=1)
        bp = self.branch_pool(pooled)
        return torch.cat([b1, b3, b3d, bp], 1)


class FIDInceptionV3(nn.Module):
    """FID Inception-v3 up to pool3: images (N, C, H, W) in [0, 1] -> features (N, 2048) float32.

    C is 1 (repeated to RGB) or 3. Images are resized to 299x299 (bilinear, ``align_corners=False``) and scaled to
    [-1, 1], exactly as pytorch-fid does. Construct with random weights, then :meth:`load_reference`, or use
    :func:`fid_inception_v3`.
    """

    def __init__(self) -> None:
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32, kernel_size=3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32, 32, kernel_size=3)
        self.Conv2d_2b_3x3 = BasicConv2d(32, 64, kernel_size=3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64, 80, kernel_size=1)
        self.Conv2d_4a_3x3 = BasicConv2d(80, 192, kernel_size=3)
        self.Mixed_5b = InceptionA(192, pool_features=32)
        self.Mixed_5c = InceptionA(256, pool_features=64)
        self.Mixed_5d = InceptionA(288, pool_features=64)
        self.Mixed_6a = InceptionB(288)
        self.Mixed_6b = InceptionC(768, channels_7x7=128)
        self.Mixed_6c = InceptionC(768, channels_7x7=160)
        self.Mixed_6d = InceptionC(768, channels_7x7=160)
        self.Mixed_6e = InceptionC(768, channels_7x7=192)
        self.Mixed_7a = InceptionD(768)
        self.Mixed_7b = InceptionE(1280, pool="avg")
        self.Mixed_7c = InceptionE(2048, pool="max")
        self.eval()
        self.requires_grad_(False)

    @staticmethod
    def preprocess(images: torch.Tensor) -> torch.Tensor:
        """(N, 1 or 3, H, W) in [0, 1] (or uint8) -> (N, 3, 299, 299) float32 in [-1, 1]."""
        check_images(images, channels=(1, 3), allow_uint8=True)
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False)
        return 2.0 * x - 1.0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # channels-last activations: the same arithmetic, about 1.3x faster convolutions on CPU
        x = self.preprocess(images).contiguous(memory_format=torch.channels_last)
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, kernel_size=3, stride=2)
        for block in (self.Mixed_5b, self.Mixed_5c, self.Mixed_5d, self.Mixed_6a, self.Mixed_6b, self.Mixed_6c,
                      self.Mixed_6d, self.Mixed_6e, self.Mixed_7a, self.Mixed_7b, self.Mixed_7c):
            x = block(x)
        return x.mean(dim=(2, 3))

    def load_reference(self, state_dict: dict[str, torch.Tensor]) -> "FIDInceptionV3":
        """Load a state dict in the reference file's naming (``fc.*`` dropped; BatchNorm step counters optional).

        Any missing, unexpected or mis-shaped tensor raises ValueError naming it. Returns ``self``.
        """
        state = {k: v for k, v in state_dict.items() if not k.startswith(_CLASSIFIER_PREFIX)}
        own = self.state_dict()
        optional = {k for k in own if k.endswith("num_batches_tracked")}
        missing = sorted(k for k in own if k not in state and k not in optional)
        unexpected = sorted(k for k in state if k not in own)
        if missing or unexpected:
            raise ValueError(
                f"state dict does not fit FIDInceptionV3: missing {missing[:5]} ({len(missing)} in all), "
                f"unexpected {unexpected[:5]} ({len(unexpected)} in all)"
            )
        for k, v in state.items():
            if v.shape != own[k].shape:
                raise ValueError(f"tensor {k!r} has shape {tuple(v.shape)}, FIDInceptionV3 needs {tuple(own[k].shape)}")
        with torch.no_grad():
            for k, v in state.items():
                own[k].copy_(v)
        return self


def read_fid_weights(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read FID Inception weights from a ``.safetensors`` file or the reference pickle ``.pth`` (weights only)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"FID Inception weights not found: {path}")
    if path.suffix == ".safetensors":
        return load_file(str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # the unpickler's errors come in many types; all mean "not a plain state dict"
        raise ValueError(f"cannot read {path} as a weights-only state dict: {e}") from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors")
    return dict(state)


def convert_fid_weights(pth: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Convert the reference ``.pth`` (read with ``weights_only=True``) into a ``.safetensors`` file; return ``out``.

    The classifier head is dropped; the result loads with :meth:`FIDInceptionV3.load_reference`.
    """
    state = read_fid_weights(pth)
    FIDInceptionV3().load_reference(state)  # refuse to write a file that would not load
    tensors = {k: v.contiguous() for k, v in state.items() if not k.startswith(_CLASSIFIER_PREFIX)}
    out = Path(out)
    with atomic_path(out) as tmp:
        save_file(tensors, str(tmp), metadata={"source": FID_WEIGHTS_URL.rsplit("/", 1)[-1]})
    return out


def hub_checkpoint_path() -> Path:
    """Where pytorch-fid caches the same weights file: ``torch.hub.get_dir()/checkpoints/<file name>``."""
    return Path(torch.hub.get_dir()) / "checkpoints" / FID_WEIGHTS_URL.rsplit("/", 1)[-1]


def hub_cached_weights(sha256: str | None = FID_WEIGHTS_SHA256) -> Path | None:
    """pytorch-fid's cached copy if present (checked against ``sha256``: ChecksumError on mismatch), else None."""
    path = hub_checkpoint_path()
    if not path.is_file():
        return None
    from ..zoo.download import verify_file

    return verify_file(path, sha256)


def fid_inception_v3(
    weights: str | os.PathLike | None = None,
    *,
    sha256: str | None = FID_WEIGHTS_SHA256,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> FIDInceptionV3:
    """The FID Inception with the reference weights, in eval mode.

    ``weights``: a local ``.pth``/``.safetensors`` file, or None to fetch :data:`FID_WEIGHTS_URL` through the zoo's
    hash-checked download cache (``sha256`` is the expected digest; None skips the check).
    """
    if weights is None:
        weights = hub_cached_weights(sha256)
    if weights is None:
        from ..zoo import download_file  # lazy: the zoo is only needed when downloading

        try:
            weights = download_file(FID_WEIGHTS_URL, sha256=sha256, progress=progress)
        except OSError as e:
            raise OSError(
                f"{e}; offline? pass weights=PATH to a copy of {FID_WEIGHTS_URL.rsplit('/', 1)[-1]}, put that file in "
                f"{hub_checkpoint_path().parent} (pytorch-fid's cache), or set LEARNEDAUG_MIRROR to a server holding it"
            ) from e
    model = FIDInceptionV3().load_reference(read_fid_weights(weights))
    return model.to(device) if device is not None else model
