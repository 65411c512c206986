"""``AVATAR/avatar.pt``: the avatar and its training state in one file, replaced atomically at each
save, so an interrupted training resumes where it was and a finished one renders.

A file that is not one (truncated, another tool's, a newer format) is a
:class:`recon.errors.BadInputError` naming it and the way out.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

FORMAT = "recon-avatar"
VERSION = 1
FILENAME = "avatar.pt"


def save(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` to ``path`` through a temporary file and a rename (never half a file)."""
    import torch

    from recon.output import write_file

    buffer = io.BytesIO()
    torch.save({"format": FORMAT, "version": VERSION, **state}, buffer)
    write_file(path, buffer.getvalue())


def load(path: Path) -> dict[str, Any]:
    """The state saved in ``path`` (on the CPU)."""
    import torch

    from recon.errors import BadInputError

    how = "delete it (or train with --restart) to start again"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise BadInputError(f"{path}: no avatar here; train one with `recon avatar train CLIP -o {path.parent}`") from None
    except Exception as exc:  # torch raises many kinds for a damaged file
        why = (str(exc).strip().splitlines() or ["unreadable"])[0][:120]
        raise BadInputError(f"{path}: not a readable recon avatar ({type(exc).__name__}: {why}); {how}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise BadInputError(f"{path}: not a recon avatar file; {how}")
    if state.get("version") != VERSION:
        raise BadInputError(f"{path}: avatar format version {state.get('version')}, this recon reads {VERSION}; {how}")
    return state
