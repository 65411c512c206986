"""Byte-reproducible ``.npz`` files: the same arrays give the same bytes (fixed zip timestamps), so
regenerating an unchanged asset shows no change in version control."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """The bytes of an ``.npz`` holding ``arrays`` (deflated, no pickles, fixed timestamps)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, arr in arrays.items():
            data = io.BytesIO()
            np.lib.format.write_array(data, np.ascontiguousarray(arr), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data.getvalue())
    return buf.getvalue()


def write_or_check(outputs: dict[Path, bytes], check: bool) -> None:
    """An asset script's last step: write every file, or with ``check`` compare them with the
    files on disk, print ``{"stale": [names]}`` and exit 1 when any differs (0 otherwise)."""
    import json

    if check:
        stale = [p.name for p, b in outputs.items() if not p.exists() or p.read_bytes() != b]
        print(json.dumps({"stale": stale}))
        raise SystemExit(1 if stale else 0)
    for path, content in outputs.items():
        path.write_bytes(content)
