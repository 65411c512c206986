"""Plain helpers for the face tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

from recon.structures import Frame

ROOT = Path(__file__).resolve().parents[3]
DEMO_PHOTO = ROOT / "assets" / "demo_face" / "astronaut.jpg"


def load(path: Path) -> Frame:
    """A photo read the way ``recon reconstruct`` reads it (EXIF orientation applied)."""
    from recon_io.images import load_frame

    return load_frame(path)

