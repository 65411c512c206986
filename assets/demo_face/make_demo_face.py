"""Regenerate ``assets/demo_face/astronaut.jpg`` from the copy scikit-image ships (public domain).

Needs scikit-image, which recon itself does not depend on:

    .venv/bin/pip install scikit-image && .venv/bin/python assets/demo_face/make_demo_face.py
"""

from pathlib import Path

from PIL import Image
from skimage import data

OUT = Path(__file__).resolve().parent / "astronaut.jpg"

if __name__ == "__main__":
    Image.fromarray(data.astronaut()).save(OUT, quality=95, subsampling=0)
    print(f"wrote {OUT}")
