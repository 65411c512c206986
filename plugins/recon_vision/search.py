"""``recon search``: earlier reconstructions ranked by CLIP similarity to a text.

Each reconstruction folder under LIBRARY (a folder holding ``report.json``) is represented by the
pictures recon wrote there (``preview.png``, else the texture ``mesh.png``). Their CLIP embeddings
are cached in the folder as :data:`CACHE` (per model and picture content), which is added to the
folder's ``report.json`` outputs so that ``--overwrite`` still knows the folder as recon's.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from recon.errors import BadInputError

CACHE = "search_embeddings.npz"
PICTURES = ("preview.png", "mesh.png")


@dataclass
class Hit:
    folder: Path
    score: float
    picture: str
    method: str | None


def reconstructions(library: Path) -> list[Path]:
    """Every folder under ``library`` (itself included) that holds a recon ``report.json``."""
    if not library.is_dir():
        raise BadInputError(f"{library}: no such folder; give the folder that holds your reconstructions")
    found = sorted({p.parent for p in library.rglob("report.json")})
    return [f for f in found if any((f / name).is_file() for name in PICTURES)]


def _picture(folder: Path) -> Path:
    return next(folder / name for name in PICTURES if (folder / name).is_file())


def folder_embedding(folder: Path, clip: object) -> np.ndarray:
    """The folder's picture embedding, from its cache when the model and the picture are the same."""
    from PIL import Image

    picture = _picture(folder)
    digest = hashlib.sha256(picture.read_bytes()).hexdigest()
    cache = folder / CACHE
    if cache.is_file():
        try:
            with np.load(cache) as data:
                if str(data["model"]) == clip.name and str(data["sha256"]) == digest:
                    return data["embedding"].astype(np.float32)
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache is made again
    with Image.open(picture) as im:
        embedding = clip.image_embeddings([np.asarray(im.convert("RGB"))])[0]
    _write_cache(folder, embedding, clip.name, digest, picture.name)
    return embedding


def _write_cache(folder: Path, embedding: np.ndarray, model: str, digest: str, picture: str) -> None:
    """The cache file, and its name in ``report.json``'s outputs (both replaced atomically)."""
    tmp = folder / f".{CACHE}.{os.getpid()}.tmp"
    with open(tmp, "wb") as f:
        np.savez(f, embedding=embedding, model=np.array(model), sha256=np.array(digest), picture=np.array(picture))
    os.replace(tmp, folder / CACHE)
    report_path = folder / "report.json"
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError):
        return
    outputs = report.get("outputs")
    if isinstance(outputs, list) and CACHE not in outputs:
        report["outputs"] = sorted([*outputs, CACHE])
        tmp_report = folder / f".report.json.{os.getpid()}.tmp"
        tmp_report.write_text(json.dumps(report, indent=2) + "\n")
        os.replace(tmp_report, report_path)


def search(text: str, library: Path, clip: object) -> list[Hit]:
    """The reconstructions under ``library``, best match to ``text`` first."""
    folders = reconstructions(library)
    if not folders:
        raise BadInputError(f"{library}: no reconstructions with a preview here; run recon reconstruct ... -o {library}/NAME first")
    query = clip.text_embeddings([text])[0]
    hits = []
    for folder in folders:
        score = float(folder_embedding(folder, clip) @ query)
        try:
            method = json.loads((folder / "report.json").read_text()).get("method")
        except (OSError, ValueError):
            method = None
        hits.append(Hit(folder, round(score, 4), _picture(folder).name, method))
    return sorted(hits, key=lambda h: -h.score)
