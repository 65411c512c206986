"""Held-out frames: the avatar against the tracked, textured head mesh (the baseline a mesh and a
texture give), both over the same background plate, scored in the shell's pixels (the head
with hair, ears and neck) and in the face's (inside the tracked landmarks): PSNR, and SSIM with
kornia; ``heldout.png`` puts truth, avatar and mesh side by side.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from recon.structures import Camera, Mesh
from recon_avatar.clip import HeadParts

SUPERSAMPLE = 4  # the mesh baseline is rendered this much larger and averaged down (antialiased, as the frames are)


def mesh_baseline(head: HeadParts, weights: np.ndarray, camera: Camera, plate: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8: the textured head with ``weights`` as ``camera`` sees it, over ``plate``."""
    from recon.cameras import scale_camera
    from recon.render import render_meshes

    s = SUPERSAMPLE
    big = scale_camera(camera, s)
    v = head.posed(weights)
    meshes = []
    for i, name in enumerate(head.names):
        lo = head.offsets[i]
        hi = head.offsets[i + 1] if i + 1 < len(head.offsets) else len(v)
        faces = head.faces[head.part == i] - lo
        meshes.append(Mesh(v[lo:hi], faces, uvs=head.uvs[i], texture=head.textures[i], name=name))
    out = render_meshes(meshes, big, device="cpu")
    h, w = camera.height, camera.width
    rgb = out.rgb.astype(np.float32).reshape(h, s, w, s, 3)
    cover = out.mask.astype(np.float32).reshape(h, s, w, s)
    premult = (rgb * cover[..., None]).mean(axis=(1, 3)) / 255.0
    alpha = cover.mean(axis=(1, 3))[..., None]
    image = premult + (1.0 - alpha) * plate.astype(np.float32) / 255.0
    return (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)


def face_region(landmarks: np.ndarray, size: int) -> np.ndarray:
    """(size, size) bool: the convex hull of a frame's face landmarks (N, 2, crop pixels)."""
    from PIL import Image, ImageDraw
    from scipy.spatial import ConvexHull

    hull = landmarks[ConvexHull(landmarks).vertices]
    image = Image.new("1", (size, size), 0)
    ImageDraw.Draw(image).polygon([(float(x) + 0.5, float(y) + 0.5) for x, y in hull], fill=1)
    return np.asarray(image, dtype=bool)


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """PSNR (dB) of uint8 images ``a`` and ``b`` over the pixels of ``mask``."""
    d = (a.astype(np.float64) - b.astype(np.float64))[mask] / 255.0
    mse = float((d**2).mean()) if d.size else 0.0
    return float("inf") if mse == 0 else -10.0 * np.log10(mse)


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray) -> float:
    """Mean SSIM (kornia, 11-pixel window) of uint8 images ``a`` and ``b`` over ``mask``."""
    import kornia
    import torch

    t = lambda x: torch.as_tensor(x, dtype=torch.float32).permute(2, 0, 1)[None] / 255.0  # noqa: E731
    window = min(11, (min(a.shape[:2]) // 2) * 2 - 1)
    m = kornia.metrics.ssim(t(a), t(b), window).mean(1)[0].numpy()
    return float(m[mask].mean()) if mask.any() else 1.0


def score(truth: np.ndarray, image: np.ndarray, head: np.ndarray, face: np.ndarray) -> dict[str, float]:
    """PSNR and SSIM of ``image`` against ``truth`` over the ``head`` pixels (the shell: hair,
    ears, neck) and over the ``face`` ones (inside the face landmarks)."""
    return {
        "psnr_db": round(psnr(truth, image, head), 3), "ssim": round(ssim(truth, image, head), 4),
        "face_psnr_db": round(psnr(truth, image, face), 3), "face_ssim": round(ssim(truth, image, face), 4),
    }


def side_by_side(rows: list[tuple[np.ndarray, np.ndarray, np.ndarray]], gap: int = 2) -> np.ndarray:
    """One image: a row per held-out frame of (truth, avatar, mesh), white gaps between."""
    h, w = rows[0][0].shape[:2]
    out = np.full((len(rows) * (h + gap) - gap, 3 * (w + gap) - gap, 3), 255, np.uint8)
    for r, images in enumerate(rows):
        for c, image in enumerate(images):
            out[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = image
    return out


def summary(per_frame: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean avatar and mesh scores over the held-out frames and the avatar's PSNR gains."""
    mean = lambda who, what: round(float(np.mean([f[who][what] for f in per_frame])), 3)  # noqa: E731
    out: dict[str, Any] = {who: {what: mean(who, what) for what in per_frame[0][who]} for who in ("avatar", "mesh")}
    out["psnr_gain_db"] = round(out["avatar"]["psnr_db"] - out["mesh"]["psnr_db"], 3)
    out["face_psnr_gain_db"] = round(out["avatar"]["face_psnr_db"] - out["mesh"]["face_psnr_db"], 3)
    out["frames"] = len(per_frame)
    return out
