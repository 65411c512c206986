"""What the vision plugin finds on this machine, cheaply: packages by ``find_spec``, models by
their files (for ``recon plugins``; nothing is imported or loaded)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from typing import Any

from recon_vision.identity import models_folder
from recon_vision.language import CAPTION_ENV, CLIP_ENV, DEFAULT_CAPTION, DEFAULT_CLIP
from recon_vision.objects import ARCHITECTURES


def _torch_checkpoints() -> Path:
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "torch")
    return Path(home) / "hub" / "checkpoints"


def _hf_cached(name: str) -> Path | None:
    home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "huggingface")
    folder = Path(os.environ.get("HF_HUB_CACHE", os.path.join(home, "hub"))) / f"models--{name.replace('/', '--')}"
    return folder if folder.is_dir() else None


def status() -> dict[str, Any]:
    deps = {name: importlib.util.find_spec(name) is not None for name in ("cv2", "torchvision", "transformers")}
    checkpoints = _torch_checkpoints()
    coco = sorted(p.name for p in checkpoints.glob("*.pth") if any(p.name.startswith(a) for a in ARCHITECTURES)) if checkpoints.is_dir() else []
    clip = os.environ.get(CLIP_ENV) or _hf_cached(DEFAULT_CLIP)
    caption = os.environ.get(CAPTION_ENV) or _hf_cached(DEFAULT_CAPTION)
    identity = models_folder()
    return {
        "dependencies": deps,
        "models": {
            "face detector (MediaPipe)": "in the mediapipe wheel",
            "face identity (SFace)": str(identity) if identity else None,
            "COCO detector": str(checkpoints / coco[0]) if coco else None,
            "CLIP": str(clip) if clip else None,
            "captioning": str(caption) if caption else None,
        },
    }
