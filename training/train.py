#!/usr/bin/env python3
"""Train ParagonSR2-Realtime 2x from scratch on freely licensed photographs shipped by Debian packages.

One command runs the whole recipe (settings in config.json): data preparation (MATLAB-style antialiased
bicubic downscaling), training (random crops, flips, 90° rotations, L1, Adam with cosine decay), periodic
Set5 x2 validation (monitoring only, never training data), resumable checkpoints, and the final export
(weights + parity fixture, see export.py).

    /usr/bin/python3 training/train.py                 # train (resumes from training/runs/<name>/last.pt)
    /usr/bin/python3 training/train.py --iterations N  # override the length (resuming keeps the progress)
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from pathlib import Path

# On a shared machine OpenMP's default spin-waiting burns ~4x the CPU per iteration whenever another
# process holds a core (measured: 1.56 s vs 0.40 s of CPU per step); passive waiting avoids it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import torch
import torch.nn.functional as F

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from paragon_realtime import ParagonSR2Realtime, evaluate_set5, imresize, load_rgb  # noqa: E402

ROOT = HERE.parent


def log(run: Path, msg: str) -> None:
    line = f"{time.strftime('%H:%M:%S', time.gmtime())} {msg}"
    print(line, flush=True)
    with open(run / "log.txt", "a") as f:
        f.write(line + "\n")


# ------------------------------------------------------------------------------------------------ data

def prepare_data(cfg: dict, cache: Path) -> list[tuple[np.ndarray, np.ndarray]]:
    """HR/LR pairs: each photo is first downscaled by every factor in `hr_scales` (smaller factors give
    sharper, JPEG-artefact-free detail at varied scales), cropped to even size, then its LR is the MATLAB
    antialiased bicubic ×0.5, exactly like the Set5 benchmark inputs."""
    if cache.exists():
        z = np.load(cache)
        n = len([k for k in z.files if k.startswith("hr")])
        return [(z[f"hr{i}"], z[f"lr{i}"]) for i in range(n)]
    photos = json.loads((HERE / cfg["photos"]).read_text())["photos"]
    pairs = []
    for p in photos:
        img = load_rgb(p["path"])
        for s in cfg["hr_scales"]:
            hr = img if s == 1 else imresize(img, s)
            hr = hr[: hr.shape[0] // 2 * 2, : hr.shape[1] // 2 * 2]
            lr = imresize(hr, 0.5, (hr.shape[0] // 2, hr.shape[1] // 2))
            pairs.append((hr, lr))
        print(f"prepared {p['path']} {img.shape[1]}x{img.shape[0]}", flush=True)
    np.savez(cache, **{f"hr{i}": h for i, (h, _) in enumerate(pairs)},
             **{f"lr{i}": l for i, (_, l) in enumerate(pairs)})
    return pairs


class Sampler:
    """Random LR/HR crop pairs with flips and 90° rotations. Flat crops (out-of-focus backgrounds, sky,
    which these wallpapers have plenty of: the median crop's mean absolute grey gradient is ~6 levels
    per pixel) are mostly rejected (kept with probability `flat_keep`), so batches carry edges and
    texture to learn from."""

    def __init__(self, pairs: list[tuple[np.ndarray, np.ndarray]], cfg: dict, rng: np.random.Generator) -> None:
        self.pairs = pairs
        self.cfg = cfg
        self.rng = rng
        area = np.array([lr.shape[0] * lr.shape[1] for _, lr in pairs], dtype=np.float64)
        self.prob = area / area.sum()

    def crop(self) -> tuple[np.ndarray, np.ndarray]:
        p, s = self.cfg["patch"], 2
        for attempt in range(20):
            hr, lr = self.pairs[self.rng.choice(len(self.pairs), p=self.prob)]
            y = int(self.rng.integers(0, lr.shape[0] - p + 1))
            x = int(self.rng.integers(0, lr.shape[1] - p + 1))
            lc = lr[y:y + p, x:x + p]
            g = lc.astype(np.float32).mean(axis=2)
            grad = np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean()
            if grad >= self.cfg["min_grad"] or self.rng.random() < self.cfg["flat_keep"] or attempt == 19:
                return lc, hr[y * s:(y + p) * s, x * s:(x + p) * s]
        raise AssertionError("unreachable")

    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        lrs, hrs = [], []
        for _ in range(self.cfg["batch"]):
            lc, hc = self.crop()
            k = int(self.rng.integers(0, 4))
            lc, hc = np.rot90(lc, k), np.rot90(hc, k)
            if self.rng.random() < 0.5:
                lc, hc = lc[:, ::-1], hc[:, ::-1]
            lrs.append(np.ascontiguousarray(lc))
            hrs.append(np.ascontiguousarray(hc))
        to_t = lambda a: torch.from_numpy(np.stack(a)).permute(0, 3, 1, 2).float().div_(255)
        return to_t(lrs), to_t(hrs)


# -------------------------------------------------------------------------------------------- training

def lr_at(cfg: dict, it: int, total: int, progress: float | None = None) -> float:
    """Linear warm-up, then cosine decay from `lr` to `lr_min` over the remaining iterations, or over
    the wall-clock budget when `progress` (fraction of the budget trained) is given."""
    if it < cfg["warmup"]:
        return cfg["lr"] * (it + 1) / cfg["warmup"]
    t = min(1.0, (it - cfg["warmup"]) / max(1, total - cfg["warmup"]))
    if progress is not None:
        t = min(1.0, progress)
    return cfg["lr_min"] + 0.5 * (cfg["lr"] - cfg["lr_min"]) * (1 + math.cos(math.pi * t))


def build_model(cfg: dict) -> ParagonSR2Realtime:
    return ParagonSR2Realtime(scale=2, channels=cfg["channels"], groups=cfg["groups"], blocks=cfg["blocks"],
                              upsampler_alpha=cfg["upsampler_alpha"], gamma_init=cfg["gamma_init"],
                              detail_gain_init=cfg["detail_gain_init"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(HERE / "config.json"))
    ap.add_argument("--iterations", type=int, help="override config iterations (also when resuming)")
    ap.add_argument("--until", help="UTC HH:MM: decay the learning rate by wall-clock time so training ends then "
                    "(on a shared machine whose speed varies); the iteration count becomes an upper bound")
    ap.add_argument("--no-export", action="store_true", help="skip the export at the end")
    args = ap.parse_args()
    cfg = json.loads(Path(args.config).read_text())
    total = args.iterations or cfg["iterations"]
    run = HERE / "runs" / cfg["name"]
    run.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(cfg["threads"])
    random.seed(cfg["seed"])
    np.random.seed(cfg["seed"])
    torch.manual_seed(cfg["seed"])
    rng = np.random.default_rng(cfg["seed"])

    t0 = time.time()
    pairs = prepare_data(cfg, HERE / "runs" / "data-cache.npz")
    log(run, f"data: {len(pairs)} HR/LR pairs, {sum(h.shape[0] * h.shape[1] for h, _ in pairs) / 1e6:.1f} MP HR "
             f"({time.time() - t0:.0f}s)")

    model = build_model(cfg)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=cfg["lr"], betas=tuple(cfg["betas"]))
    it, elapsed = 0, 0.0
    ckpt = run / "last.pt"
    if ckpt.exists():
        st = torch.load(ckpt)
        model.load_state_dict(st["model"])
        opt.load_state_dict(st["opt"])
        it, elapsed = st["iteration"], st["elapsed"]
        rng.bit_generator.state = st["rng"]
        torch.set_rng_state(st["torch_rng"])
        log(run, f"resumed at iteration {it} ({elapsed / 60:.1f} min trained)")
    sampler = Sampler(pairs, cfg, rng)
    log(run, f"training {total} iterations, batch {cfg['batch']}x{cfg['patch']}px, "
             f"{sum(p.numel() for p in params)} trainable parameters")

    set5 = Path(cfg["set5"]) if Path(cfg["set5"]).is_absolute() else ROOT / cfg["set5"]
    last_save, seg_start, seg_it, loss_acc = time.time(), time.time(), it, 0.0
    budget = None
    if args.until:
        hh, mm = map(int, args.until.split(":"))
        now = time.gmtime()
        left = (hh * 60 + mm) * 60 - (now.tm_hour * 3600 + now.tm_min * 60 + now.tm_sec)
        budget = elapsed + max(60, left)
        log(run, f"time-based schedule: {budget / 60:.1f} min of training in all, ending at {args.until} UTC")
    progress = lambda: None if budget is None else (elapsed + time.time() - seg_start) / budget
    model.train()
    while it < total and (budget is None or progress() < 1):
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, it, total, progress())
        lr_b, hr_b = sampler.batch()
        loss = F.l1_loss(model(lr_b), hr_b)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        it += 1
        loss_acc += loss.item()
        done = it == total or (budget is not None and progress() >= 1)
        if it % cfg["log_every"] == 0 or done:
            now = time.time()
            speed = (it - seg_it) / max(1e-6, now - seg_start)
            log(run, f"it {it} loss {loss_acc / cfg['log_every']:.5f} lr {opt.param_groups[0]['lr']:.2e} "
                     f"{speed:.2f} it/s gain {model.detail_gain.item():.3f} "
                     + (f"eta {(total - it) / speed / 60:.1f} min" if budget is None else f"progress {progress():.3f}"))
            loss_acc = 0.0
        if it % cfg["val_every"] == 0 or done:
            s = evaluate_set5(model, set5)
            model.train()
            log(run, f"it {it} set5x2 psnr-y {s['mean']:.3f} dB "
                     + " ".join(f"{k} {v:.2f}" for k, v in s.items() if k != "mean"))
        if time.time() - last_save > cfg["checkpoint_every_s"] or done:
            now = time.time()
            elapsed += now - seg_start
            seg_start, seg_it = now, it
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "iteration": it, "elapsed": elapsed,
                        "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "config": cfg},
                       run / "last.pt.tmp")
            (run / "last.pt.tmp").replace(ckpt)
            last_save = now
            log(run, f"checkpoint at iteration {it}, {elapsed / 60:.1f} min trained")

    if not args.no_export:
        from export import export
        export(ckpt, cfg)


if __name__ == "__main__":
    main()
