"""``recon explain``: what a model looked at.

- Photos, with CLIP and ``--labels``: **occlusion sensitivity** (a grey square slid over the
  picture CLIP sees, each position scored by how much the label's probability drops) and
  **gradient saliency** (the largest absolute gradient of the label's logit over the three
  channels of each pixel), each drawn as a heat map over that picture (CLIP's centre crop at its
  input size, enlarged).
- Point clouds and meshes, with PointNet: the **critical points** (``recon_pointnet.critical_points``):
  a PLY of the cloud the network read, critical points red, the rest grey.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recon_vision.language import PROMPT, Clip

PATCH = 1 / 6  # occluding square, fraction of the picture's side
STRIDE = 1 / 12
SHOW = 384  # pictures are drawn at least this big


def clip_maps(clip: Clip, image: np.ndarray, labels: list[str], label: str | None = None) -> dict[str, Any]:
    """Occlusion and saliency maps (S, S) in [0, 1] for ``label`` (default: CLIP's top label),
    the picture CLIP saw (S, S, 3 uint8) and the probabilities."""
    import torch

    pixels = clip.processor(images=[image], return_tensors="pt")["pixel_values"]  # (1, 3, S, S), normalised
    text = torch.from_numpy(clip.text_embeddings([PROMPT.format(x) for x in labels]))

    def probabilities(values: torch.Tensor) -> torch.Tensor:
        feats = clip.model.get_image_features(pixel_values=values)
        feats = feats / feats.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return (clip.scale * feats @ text.T).softmax(dim=1)

    with torch.no_grad():
        p0 = probabilities(pixels)[0]
    target = labels.index(label) if label is not None else int(p0.argmax())
    values = pixels.clone().requires_grad_(True)
    feats = clip.model.get_image_features(pixel_values=values)
    logit = clip.scale * (feats / feats.norm(dim=1, keepdim=True)) @ text[target]
    logit.sum().backward()
    saliency = values.grad.abs().amax(dim=1)[0].numpy()

    S = pixels.shape[-1]
    patch, stride = max(2, round(S * PATCH)), max(1, round(S * STRIDE))
    starts = list(range(0, S - patch + 1, stride))
    drop = np.zeros((S, S))
    count = np.zeros((S, S))
    batch = []
    where = []
    for y in starts:
        for x in starts:
            occluded = pixels.clone()
            occluded[:, :, y : y + patch, x : x + patch] = 0.0  # 0 in normalised units: the training mean colour
            batch.append(occluded)
            where.append((y, x))
    with torch.no_grad():
        probs = torch.cat([probabilities(torch.cat(batch[i : i + 32])) for i in range(0, len(batch), 32)])[:, target].numpy()
    for (y, x), p in zip(where, probs):
        drop[y : y + patch, x : x + patch] += float(p0[target]) - p
        count[y : y + patch, x : x + patch] += 1
    occlusion = np.where(count > 0, drop / np.maximum(count, 1), 0.0)
    mean = np.asarray(clip.processor.image_processor.image_mean)[:, None, None]
    std = np.asarray(clip.processor.image_processor.image_std)[:, None, None]
    seen = ((pixels[0].numpy() * std + mean).transpose(1, 2, 0) * 255).clip(0, 255).astype(np.uint8)
    return {
        "label": labels[target],
        "probability": round(float(p0[target]), 4),
        "probabilities": {x: round(float(p), 4) for x, p in zip(labels, p0)},
        "occlusion": _unit(np.maximum(occlusion, 0.0)),
        "occlusion_max_drop": round(float(occlusion.max()), 4),
        "saliency": _unit(saliency),
        "seen": seen,
    }


def _unit(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    top = a.max()
    return a / top if top > 0 else a


def heat_overlay(picture: np.ndarray, heat: np.ndarray) -> np.ndarray:
    """``heat`` (S, S) in [0, 1] as blue-to-red over ``picture`` (S, S, 3), enlarged to at
    least :data:`SHOW` pixels."""
    from PIL import Image

    rgb = np.stack([heat, 1.0 - np.abs(2.0 * heat - 1.0), 1.0 - heat], axis=-1) * 255  # blue, green, red as it rises
    out = 0.5 * picture.astype(np.float64) + 0.5 * rgb
    image = Image.fromarray(out.clip(0, 255).astype(np.uint8))
    scale = max(1, -(-SHOW // picture.shape[0]))
    return np.asarray(image.resize((picture.shape[1] * scale, picture.shape[0] * scale), Image.Resampling.NEAREST))


def critical_ply(points: np.ndarray, critical: np.ndarray) -> bytes:
    """A coloured point cloud (PLY): critical points red, the others grey."""
    import trimesh

    colours = np.tile(np.array([[150, 150, 150, 255]], dtype=np.uint8), (len(points), 1))
    colours[critical] = (220, 30, 30, 255)
    return trimesh.PointCloud(points, colors=colours).export(file_type="ply")
