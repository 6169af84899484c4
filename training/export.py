#!/usr/bin/env python3
"""Export a training checkpoint: the shipped weights (safetensors, reference state-dict names) and the parity
fixture the TS test compares the converted ONNX graph against.

    /usr/bin/python3 training/export.py [--checkpoint training/runs/realtime-2x/last.pt]

The fixture's input is a crop of a training photograph (never a benchmark image); outputs are this
training code's fp32 results in standard mode and in video mode (two frames, history weight ALPHA).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from paragon_realtime import (ParagonSR2Realtime, evaluate_set5, imresize, load_rgb,  # noqa: E402
                              load_safetensors, save_safetensors)

ROOT = HERE.parent
ALPHA = 0.3  # history weight of the video-mode pair in the fixture
FIXTURE_PHOTO = "/usr/share/wallpapers/Path/contents/images/1280x800.jpg"


def fixture_inputs() -> tuple[torch.Tensor, torch.Tensor]:
    """Two 16×24 frames a few pixels apart from a downscaled training photo (a tiny 'camera pan')."""
    img = imresize(load_rgb(FIXTURE_PHOTO), 0.25)
    y, x = 120, 100
    to_t = lambda a: torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].float() / 255
    return to_t(img[y:y + 16, x:x + 24]), to_t(img[y + 1:y + 17, x + 2:x + 26])


def export(ckpt: Path, cfg: dict) -> dict[str, float]:
    st = torch.load(ckpt)
    model = ParagonSR2Realtime(scale=2, channels=cfg["channels"], groups=cfg["groups"], blocks=cfg["blocks"],
                               upsampler_alpha=cfg["upsampler_alpha"])
    model.load_state_dict(st["model"])
    model.eval()
    weights = ROOT / cfg["export"]["weights"]
    meta = {"arch": "paragonsr2_realtime", "scale": "2", "upsampler_alpha": str(cfg["upsampler_alpha"])}
    save_safetensors(weights, model.state_dict(), meta)

    # Round trip: the file alone must rebuild the same network (strict: no missing or extra names).
    sd, _ = load_safetensors(weights)
    again = ParagonSR2Realtime(scale=2, channels=cfg["channels"], groups=cfg["groups"], blocks=cfg["blocks"],
                               upsampler_alpha=cfg["upsampler_alpha"])
    again.load_state_dict(sd, strict=True)
    again.eval()

    f1, f2 = fixture_inputs()
    with torch.no_grad():
        out = again(f1)
        o1, feat1 = again.forward_video(f1)
        o2, feat2 = again.forward_video(f2, feat1, ALPHA)
        assert torch.equal(out, model(f1)), "reloaded weights differ from the checkpoint"
    fixture = ROOT / cfg["export"]["fixture"]
    save_safetensors(fixture, {
        "input": f1, "output": out,
        "video.frame1.input": f1, "video.frame1.output": o1, "video.frame1.feature": feat1,
        "video.frame2.input": f2, "video.frame2.output": o2, "video.frame2.feature": feat2,
    }, {"alpha": str(ALPHA), "upsampler_alpha": str(cfg["upsampler_alpha"]), "source": FIXTURE_PHOTO})

    set5 = Path(cfg["set5"]) if Path(cfg["set5"]).is_absolute() else ROOT / cfg["set5"]
    scores = evaluate_set5(again, set5) if set5.exists() else {}
    rounded = evaluate_set5(again, set5, round_y=True) if set5.exists() else {}
    report = {"iteration": st["iteration"], "trained_minutes": round(st["elapsed"] / 60, 1),
              "set5_x2_psnr_y": scores, "set5_x2_psnr_y_rounded": rounded, "weights": str(weights.relative_to(ROOT)),
              "bytes": weights.stat().st_size}
    (HERE / "runs" / cfg["name"] / "export.json").write_text(json.dumps(report, indent=1))
    print(json.dumps(report, indent=1))
    return scores


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(HERE / "config.json"))
    ap.add_argument("--checkpoint", help="default: training/runs/<name>/last.pt")
    args = ap.parse_args()
    cfg = json.loads(Path(args.config).read_text())
    torch.set_num_threads(cfg["threads"])
    export(Path(args.checkpoint) if args.checkpoint else HERE / "runs" / cfg["name"] / "last.pt", cfg)


if __name__ == "__main__":
    main()
