"""General objects: a COCO detector from torchvision's detection models, from a local file.

recon never downloads weights. ``--weights FILE`` names a torchvision COCO checkpoint (a state
dict, as torchvision publishes them); without it, torch's local cache
(``torch.hub.get_dir()/checkpoints``, where torchvision keeps what it downloaded once) is searched
for the published file names. The architecture is told by the file name's prefix
(``fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth`` -> ``fasterrcnn_mobilenet_v3_large_fpn``) or
given with ``--arch``. Labels are COCO's 91 categories as torchvision names them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from recon.errors import UsageError

# architecture -> torchvision weights enum (class name); each knows its builder and file name
ARCHITECTURES = {
    "fasterrcnn_resnet50_fpn_v2": "FasterRCNN_ResNet50_FPN_V2_Weights",
    "fasterrcnn_resnet50_fpn": "FasterRCNN_ResNet50_FPN_Weights",
    "fasterrcnn_mobilenet_v3_large_320_fpn": "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights",
    "fasterrcnn_mobilenet_v3_large_fpn": "FasterRCNN_MobileNet_V3_Large_FPN_Weights",
    "retinanet_resnet50_fpn_v2": "RetinaNet_ResNet50_FPN_V2_Weights",
    "retinanet_resnet50_fpn": "RetinaNet_ResNet50_FPN_Weights",
    "fcos_resnet50_fpn": "FCOS_ResNet50_FPN_Weights",
    "ssdlite320_mobilenet_v3_large": "SSDLite320_MobileNet_V3_Large_Weights",
    "ssd300_vgg16": "SSD300_VGG16_Weights",
}
INSTALL_HINT = "objects need torchvision: pip install -e '.[vision]'"
WEIGHTS_HINT = "give --weights FILE (a torchvision COCO detection checkpoint such as fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth)"


@dataclass(frozen=True)
class DetectedObject:
    """A COCO object: label, score and box (x0, y0, x1, y1) in pixels."""

    label: str
    score: float
    box: tuple[float, float, float, float]


def _weights_enum(arch: str) -> Any:
    from torchvision.models import detection

    return getattr(detection, ARCHITECTURES[arch]).COCO_V1


def architecture_of(path: Path, arch: str | None = None) -> str:
    """The architecture named by ``arch`` or told by the file name's prefix (the longest match)."""
    if arch is not None:
        if arch not in ARCHITECTURES:
            raise UsageError(f"--arch {arch}: not a torchvision COCO detector; use one of {', '.join(sorted(ARCHITECTURES))}")
        return arch
    matches = [a for a in ARCHITECTURES if path.name.startswith(a)]
    if not matches:
        raise UsageError(f"{path}: cannot tell the detector from the file name; name the architecture with --arch ({', '.join(sorted(ARCHITECTURES))})")
    return max(matches, key=len)


def available() -> bool:
    """torchvision is installed (the optional extra ``vision``)."""
    import importlib.util

    return importlib.util.find_spec("torchvision") is not None


def _hub_dir() -> Path:
    """torch's hub folder (``torch.hub.get_dir()``) without importing torch (1.5 s) when the run
    has not: ``$TORCH_HOME/hub``, else ``$XDG_CACHE_HOME/torch/hub``, else ``~/.cache/torch/hub``."""
    import os
    import sys

    if "torch" in sys.modules:  # torch.hub.set_dir() may have moved it
        return Path(sys.modules["torch"].hub.get_dir())
    if os.environ.get("TORCH_HOME"):
        return Path(os.path.expanduser(os.environ["TORCH_HOME"])) / "hub"
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(os.path.expanduser(cache)) / "torch" / "hub"


def cached_weights() -> Path | None:
    """A published COCO checkpoint in torch's local cache, or ``None`` (also without torchvision)."""
    if not available():
        return None
    folder = _hub_dir() / "checkpoints"
    # torchvision's detection models take 1.5 s to import: only when a file could be one of them
    if not folder.is_dir() or not any(p.name.startswith(tuple(ARCHITECTURES)) for p in folder.iterdir()):
        return None
    for arch in ARCHITECTURES:
        path = folder / Path(_weights_enum(arch).url).name
        if path.is_file():
            return path
    return None


@functools.lru_cache(maxsize=2)
def load_detector(path: Path, arch: str | None = None) -> tuple[Any, list[str], str]:
    """(model in eval mode, category names, architecture) for the checkpoint at ``path``.

    :raises UsageError: the file is missing, not a checkpoint, cut short, or of another model.
    """
    if not available():
        raise UsageError(f"{path}: {INSTALL_HINT}")
    import torch
    from torchvision.models import detection

    name = architecture_of(path, arch)
    if not path.is_file():
        raise UsageError(f"{path}: no such weights file; {WEIGHTS_HINT}")
    weights = _weights_enum(name)
    builder = getattr(detection, name)
    model = builder(weights=None, weights_backbone=None, num_classes=len(weights.meta["categories"]))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises RuntimeError, UnpicklingError, EOFError, zipfile errors...
        raise UsageError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}); {WEIGHTS_HINT}") from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    try:
        model.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0][:160]
        raise UsageError(f"{path}: not a {name} checkpoint ({first}); pass --arch or {WEIGHTS_HINT}") from None
    model.eval()
    return model, list(weights.meta["categories"]), name


def detect_objects(image: np.ndarray, model: Any, categories: list[str], min_score: float = 0.5) -> list[DetectedObject]:
    """COCO objects in an RGB image (H, W, 3 uint8), best first."""
    import torch

    tensor = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
    with torch.no_grad():
        (out,) = model([tensor])
    found = []
    for box, label, score in zip(out["boxes"].tolist(), out["labels"].tolist(), out["scores"].tolist()):
        if score >= min_score:
            found.append(DetectedObject(categories[label] if 0 <= label < len(categories) else str(label), round(float(score), 4), tuple(round(float(v), 1) for v in box)))
    return sorted(found, key=lambda o: -o.score)
