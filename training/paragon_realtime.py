"""ParagonSR2-Realtime for training, plus the helpers the recipe shares (safetensors I/O, MATLAB imresize,
Set5 PSNR-Y).

The module and parameter names mirror the public reference (traiNNer-redux, paragonsr2_arch.py) exactly,
so a state dict saved from here loads in paragon's converter with no renames. Only the initialisation
differs from the reference (see `ParagonSR2Realtime.__init__`): it is not part of the checkpoint format.
"""
from __future__ import annotations

import json
import math
import struct
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------------------------- model


class SeparableFixed(nn.Module):
    """Fixed depthwise separable filter: `.h` (1,k) then `.v` (k,1), zero padding, as the reference."""

    def __init__(self, kernel: list[float], channels: int = 3) -> None:
        super().__init__()
        k = torch.tensor(kernel, dtype=torch.float32)
        n = k.numel()
        self.register_buffer("kernel", k)
        self.h = nn.Conv2d(channels, channels, (1, n), padding=(0, n // 2), groups=channels, bias=False)
        self.v = nn.Conv2d(channels, channels, (n, 1), padding=(n // 2, 0), groups=channels, bias=False)
        with torch.no_grad():
            self.h.weight.copy_(k.view(1, 1, 1, n).repeat(channels, 1, 1, 1))
            self.v.weight.copy_(k.view(1, 1, n, 1).repeat(channels, 1, 1, 1))
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.v(self.h(x))


class MagicKernelSharp2021Upsample(nn.Module):
    """The fixed classical path: optional sharpening, nearest ×scale, then a [1,4,6,4,1]/16 blur."""

    def __init__(self, channels: int, scale: int, alpha: float) -> None:
        super().__init__()
        self.scale = scale
        self.alpha = alpha
        self.sharp = SeparableFixed([-1 / 32, 0, 9 / 32, 16 / 32, 9 / 32, 0, -1 / 32], channels)
        self.blur = SeparableFixed([1 / 16, 4 / 16, 6 / 16, 4 / 16, 1 / 16], channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.alpha > 0:
            x = x + self.alpha * (self.sharp(x) - x)
        x = F.interpolate(x, scale_factor=self.scale, mode="nearest")
        return self.blur(x)


class LayerScale(nn.Module):
    def __init__(self, channels: int, init: float) -> None:
        super().__init__()
        self.gamma = nn.Parameter(torch.full((1, channels, 1, 1), float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


class NanoBlock(nn.Module):
    """`y = conv2(gelu(dw(conv1(x)))) * gamma + x` (hidden = 2C, exact-erf GELU)."""

    def __init__(self, c: int, gamma_init: float) -> None:
        super().__init__()
        h = 2 * c
        self.conv1 = nn.Conv2d(c, h, 1)
        self.dw = nn.Conv2d(h, h, 3, padding=1, groups=h)
        self.conv2 = nn.Conv2d(h, c, 1)
        self.scale = LayerScale(c, gamma_init)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale(self.conv2(F.gelu(self.dw(self.conv1(x))))) + x


class ResidualGroup(nn.Module):
    """A plain sequence of blocks: the reference puts no residual around a group."""

    def __init__(self, c: int, n: int, gamma_init: float) -> None:
        super().__init__()
        self.blocks = nn.Sequential(*[NanoBlock(c, gamma_init) for _ in range(n)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class ParagonSR2Realtime(nn.Module):
    """ParagonSR2 realtime variant (C=16, 1 group × 3 NanoBlocks by default).

    Reference inits are LayerScale 1e-5 and detail_gain 0.05; training from scratch converges faster with
    larger ones, so both are arguments. They change only the starting point, not the state-dict format.
    """

    def __init__(self, scale: int = 2, channels: int = 16, groups: int = 1, blocks: int = 3,
                 upsampler_alpha: float = 0.3, gamma_init: float = 1e-5, detail_gain_init: float = 0.05) -> None:
        super().__init__()
        self.scale = scale
        self.detail_gain = nn.Parameter(torch.tensor(float(detail_gain_init)))
        self.base = MagicKernelSharp2021Upsample(3, scale, upsampler_alpha)
        self.conv_in = nn.Conv2d(3, channels, 3, padding=1)
        self.body = nn.Sequential(*[ResidualGroup(channels, blocks, gamma_init) for _ in range(groups)])
        self.conv_mid = nn.Conv2d(channels, channels, 3, padding=1)
        self.up = nn.Sequential(nn.Conv2d(channels, channels * scale * scale, 3, padding=1), nn.PixelShuffle(scale))
        self.conv_out = nn.Conv2d(channels, 3, 3, padding=1)

    def forward_video(self, x: torch.Tensor, prev_feat: torch.Tensor | None = None,
                      alpha: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Video mode: blend conv_in features with the previous frame's; returns (output, blended feat)."""
        feat = self.conv_in(x)
        if prev_feat is not None and alpha > 0:
            feat = (1 - alpha) * feat + alpha * prev_feat
        y = self.conv_mid(self.body(feat))
        detail = self.conv_out(self.up(y)) * self.detail_gain
        return self.base(x) + detail, feat

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_video(x)[0]


# ----------------------------------------------------------------------------------------- safetensors

_DT = {"F32": (np.float32, torch.float32)}


def save_safetensors(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str]) -> None:
    """Write the safetensors format by hand: u64 LE header length, JSON header, packed little-endian data."""
    header: dict[str, object] = {"__metadata__": metadata}
    blobs, off = [], 0
    for name, t in tensors.items():
        # np.ascontiguousarray would turn a 0-d tensor (detail_gain) into shape [1]: keep the torch shape.
        b = t.detach().cpu().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)  # align the data section, as the Rust writer does
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def load_safetensors(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    raw = Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        s, e = info["data_offsets"]
        a = np.frombuffer(raw[8 + n + s:8 + n + e], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(a.copy())
    return out, meta


# ------------------------------------------------------------------------------------ MATLAB imresize

def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def imresize_taps(n_in: int, n_out: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Taps (indices, weights), each (n_out × P), of MATLAB's bicubic imresize along one axis: a = -0.5,
    kernel widened by 1/scale when downscaling (antialiasing), symmetric boundary."""
    width = 4.0
    aa = scale < 1
    if aa:
        width /= scale
    x = np.arange(1, n_out + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    p = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(p)[None, :]
    d = u[:, None] - idx
    w = scale * _cubic(scale * d) if aa else _cubic(d)
    w = w / w.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(n_in), np.arange(n_in)[::-1]])
    return aux[np.mod(idx.astype(np.int64) - 1, 2 * n_in)], w


def _resize_axis0(f: np.ndarray, n_out: int, scale: float) -> np.ndarray:
    idx, w = imresize_taps(f.shape[0], n_out, scale)
    out = np.zeros((n_out,) + f.shape[1:], dtype=np.float64)
    for k in range(idx.shape[1]):
        out += w[:, k].reshape((-1,) + (1,) * (f.ndim - 1)) * f[idx[:, k]]
    return out


def imresize(img: np.ndarray, scale: float, out_hw: tuple[int, int] | None = None) -> np.ndarray:
    """MATLAB-style bicubic imresize of an HxWxC uint8 image; returns uint8 (rounded, clipped like MATLAB)."""
    h, w = img.shape[:2]
    oh, ow = out_hw if out_hw else (int(math.ceil(h * scale)), int(math.ceil(w * scale)))
    f = _resize_axis0(img.astype(np.float64), oh, scale)
    f = _resize_axis0(f.transpose(1, 0, 2), ow, scale).transpose(1, 0, 2)
    return np.clip(np.round(f), 0, 255).astype(np.uint8)


# --------------------------------------------------------------------------------------- Set5 metric

def rgb_to_y(img: np.ndarray, round_y: bool = False) -> np.ndarray:
    """MATLAB rgb2ycbcr luma (16–235) of an HxWx3 uint8 image, in float64; `round_y` rounds it to an
    integer as MATLAB does on uint8 (BasicSR keeps it unrounded; the two differ by ~0.03 dB)."""
    f = img.astype(np.float64) / 255.0
    y = 16.0 + 65.481 * f[..., 0] + 128.553 * f[..., 1] + 24.966 * f[..., 2]
    return np.round(y) if round_y else y


def psnr_y(sr: np.ndarray, hr: np.ndarray, border: int, round_y: bool = False) -> float:
    a, b = rgb_to_y(sr, round_y), rgb_to_y(hr, round_y)
    if border:
        a, b = a[border:-border, border:-border], b[border:-border, border:-border]
    mse = np.mean((a - b) ** 2)
    return float(10 * np.log10(255.0 ** 2 / mse))


def load_rgb(path: str | Path) -> np.ndarray:
    from PIL import Image
    Image.MAX_IMAGE_PIXELS = None
    return np.asarray(Image.open(path).convert("RGB"))


def evaluate_set5(model: nn.Module, folder: str | Path, scale: int = 2, round_y: bool = False) -> dict[str, float]:
    """PSNR-Y on Set5 (LR from `x{scale}/`, HR cropped to scale × LR size, output clamped, rounded to 8 bits,
    border = scale pixels; unrounded Y unless `round_y`). Returns per-image scores and their mean under `mean`."""
    folder = Path(folder)
    scores: dict[str, float] = {}
    model.eval()
    with torch.no_grad():
        for lr_path in sorted((folder / f"x{scale}").glob("*.png")):
            lr = load_rgb(lr_path)
            hr = load_rgb(folder / "hr" / lr_path.name)[: lr.shape[0] * scale, : lr.shape[1] * scale]
            x = torch.from_numpy(lr.copy()).permute(2, 0, 1)[None].float() / 255
            y = model(x).clamp(0, 1)[0].permute(1, 2, 0).numpy()
            sr = np.round(y * 255).astype(np.uint8)
            scores[lr_path.stem] = psnr_y(sr, hr, scale, round_y)
    scores["mean"] = float(np.mean(list(scores.values())))
    return scores
