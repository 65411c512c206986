"""Fixtures for the batch tests: cheap captures made from ../shared/data, and a local Ray."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from batch_helpers import CLOUD_OPTIONS, FACE_OPTIONS, write_clouds, write_corrupt


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RECON_LOAD_PLUGINS", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory, shared_data: Path) -> dict[str, Any]:
    """A manifest of mixed captures: a two-photo face folder, a single face photo, three point
    clouds and a corrupt scan, each with its quick options."""
    base = tmp_path_factory.mktemp("mixed")
    captures = base / "captures"
    actor = captures / "actor01"
    actor.mkdir(parents=True)
    for name in ("front.jpg", "left.jpg"):
        shutil.copy(shared_data / "face_multiview" / "mvfnet" / name, actor / name)
    portrait = captures / "portrait.png"
    shutil.copy(shared_data / "face_multiview" / "single" / "deca_alfw1.png", portrait)
    clouds = write_clouds(captures, shared_data, 3)
    corrupt = write_corrupt(captures / "broken.ply", shared_data)
    rows = [
        {"name": "actor01", "inputs": ["actor01"], "options": FACE_OPTIONS},
        {"name": "portrait", "inputs": "portrait.png", "options": FACE_OPTIONS},
        *({"inputs": [p.name], "method": "occupancy", "options": CLOUD_OPTIONS} for p in clouds),
        {"inputs": [corrupt.name], "method": "occupancy", "options": CLOUD_OPTIONS},
    ]
    manifest = base / "shoot.json"
    manifest.write_text(json.dumps(rows, indent=2))
    good = {"actor01": [actor], "portrait": [portrait], **{p.stem: [p] for p in clouds}}
    options = {"actor01": FACE_OPTIONS, "portrait": FACE_OPTIONS, **{p.stem: CLOUD_OPTIONS for p in clouds}}
    return {"base": base, "captures": captures, "manifest": manifest, "good": good, "options": options, "corrupt": "broken"}


@pytest.fixture(scope="module")
def local_ray() -> Any:
    """A Ray started by the test: 127.0.0.1, no dashboard, a small object store, 2 CPUs."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[batch]' (the test extra has it)")
    if ray.is_initialized():
        ray.shutdown()
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",
        object_store_memory=80 * 1024**2,
        logging_level=logging.ERROR,
        log_to_driver=False,
    )
    try:
        yield ray
    finally:
        ray.shutdown()
