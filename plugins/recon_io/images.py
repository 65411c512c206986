"""Still images and folders of them.

An image becomes one :class:`recon.structures.Frame`: EXIF orientation applied, RGB uint8, the alpha
channel (when present and not fully opaque) as ``Frame.mask`` (alpha >= 128), and the EXIF focal
lengths kept. A folder becomes its images in natural name order (``img2`` before ``img10``).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from recon.errors import BadInputError
from recon.structures import Frame, Inputs

_EXIF_IFD = 0x8769
_FOCAL_LENGTH = 37386
_FOCAL_LENGTH_35MM = 41989


def natural_key(name: str) -> list[Any]:
    """Sort key that orders embedded numbers by value: ``a2 < a10``."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", name)]


def read_image(path: Path, options: dict[str, Any]) -> Inputs:
    """One image file as a one-frame :class:`Inputs`."""
    return Inputs(paths=[str(path)], frames=[load_frame(path)])


def read_folder(path: Path, options: dict[str, Any]) -> Inputs:
    """The images directly inside ``path`` (subfolders and hidden files ignored), sorted by name."""
    from recon_io import IMAGE_EXTENSIONS

    inputs = Inputs(paths=[str(path)])
    try:
        entries = sorted((p for p in path.iterdir() if p.is_file()), key=lambda p: natural_key(p.name))
    except OSError as exc:
        raise BadInputError(f"{path}: cannot list folder ({exc.strerror or exc}); check it exists and is readable") from None
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.suffix.lower() in IMAGE_EXTENSIONS:
            inputs.frames.append(load_frame(entry))
        else:
            inputs.notes.append(f"skipped {entry.name}: not an image")
    if not inputs.frames:
        raise BadInputError(
            f"{path}: no images in this folder; add files with one of {', '.join(IMAGE_EXTENSIONS)}"
        )
    return inputs


def load_frame(path: Path, source: str | None = None) -> Frame:
    """Read ``path`` into a :class:`Frame` (orientation, RGB, alpha mask, EXIF focal lengths)."""
    from PIL import Image, ImageOps

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Corrupt EXIF data", "Tag data larger than file": tolerated, not printed
            with Image.open(path) as img:
                img.load()
                focal_mm, focal_35 = _exif_focals(img)
                img = ImageOps.exif_transpose(img)
                rgb, mask = _to_rgb(img)
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error, IndexError... on bad files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise BadInputError(
            f"{path}: cannot read image ({reason}); re-export it as PNG or JPEG"
        ) from None
    return Frame(image=rgb, source=source or str(path), mask=mask, focal_length_mm=focal_mm, focal_length_35mm=focal_35)


def _exif_focals(img: Any) -> tuple[float | None, float | None]:
    """EXIF FocalLength (mm) and FocalLengthIn35mmFilm, from the Exif IFD (or IFD0 as a fallback)."""
    try:
        exif = img.getexif()
        sub = exif.get_ifd(_EXIF_IFD)
    except Exception:  # malformed EXIF must not make a readable image unreadable
        return None, None

    def value(tag: int) -> float | None:
        raw = sub.get(tag, exif.get(tag))
        try:
            v = float(raw) if raw is not None else None
        except (TypeError, ValueError, ZeroDivisionError):
            return None
        return v if v is not None and np.isfinite(v) and v > 0 else None

    return value(_FOCAL_LENGTH), value(_FOCAL_LENGTH_35MM)


def _to_rgb(img: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 3) uint8 RGB and an (H, W) bool mask from alpha, or None when fully opaque."""
    if img.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(img, dtype=np.float64)
        scale = 1.0 if img.mode == "F" and values.max(initial=0) <= 1.0 else (255.0 if img.mode == "F" else 65535.0)
        grey = np.clip(np.round(values / scale * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2), None
    mask = None
    if img.mode in ("RGBA", "LA", "PA", "La", "RGBa") or "transparency" in img.info:
        rgba = np.asarray(img.convert("RGBA"))
        alpha = rgba[..., 3]
        if alpha.min() < 255:
            mask = alpha >= 128
        return np.ascontiguousarray(rgba[..., :3]), mask
    return np.asarray(img.convert("RGB")), None
