"""A trained avatar: the field, the background plate and the camera of the training crop, and the
tracked head it is anchored to; it renders the person under any head pose and expression.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from recon.structures import Camera
from recon_avatar.clip import HeadParts, Tracking
from recon_avatar.field import AvatarField, FieldSettings, render_rays
from recon_avatar.shell import ShellRays, head_shell

CHUNK = 32768  # rays rendered at once (bounds memory at large sizes)


def ray_tensors(rays: ShellRays, device: torch.device | str) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v, device=device) for k, v in rays.arrays().items() if k != "pixel"}


@dataclass
class Avatar:
    field: AvatarField
    plate: np.ndarray  # (size, size, 3) uint8
    K: np.ndarray  # the crop's intrinsics
    size: int
    head: HeadParts
    samples: int
    weight_names: list[str]

    @property
    def device(self) -> torch.device:
        return self.field.planes.device

    def camera(self, R: np.ndarray, t: np.ndarray) -> Camera:
        return Camera(K=self.K, R=R, t=t, width=self.size, height=self.size)

    def rays(self, R: np.ndarray, t: np.ndarray, weights: np.ndarray) -> ShellRays:
        """The shell rays of the crop's camera with the head at (``R``, ``t``) and ``weights``."""
        return head_shell(self.head, weights, self.camera(R, t))

    @torch.no_grad()
    def render(self, R: np.ndarray, t: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(size, size, 3) uint8 image of the avatar over the plate, and the (size, size) bool
        mask of the pixels the shell covers."""
        rays = self.rays(R, t, weights)
        image = self.plate.astype(np.float32).reshape(-1, 3) / 255.0
        mask = np.zeros(self.size * self.size, bool)
        mask[rays.pixel] = True
        if len(rays):
            t_rays = ray_tensors(rays, self.device)
            w = torch.as_tensor(np.asarray(weights, np.float32), device=self.device)
            out = []
            for lo in range(0, len(rays), CHUNK):
                part = {k: v[lo : lo + CHUNK] for k, v in t_rays.items()}
                rgb, acc = render_rays(self.field, part, w[None].expand(len(part["near"]), -1), self.samples)
                plate = torch.as_tensor(image[rays.pixel[lo : lo + CHUNK]], device=self.device)
                out.append((rgb + (1.0 - acc[:, None]) * plate).cpu().numpy())
            image[rays.pixel] = np.concatenate(out)
        rgb = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8).reshape(self.size, self.size, 3)
        return rgb, mask.reshape(self.size, self.size)

    def state(self) -> dict[str, Any]:
        """What ``avatar.pt`` keeps of the avatar (the head is the tracking file's)."""
        return {
            "field": self.field.state_dict(),
            "resolution": self.field.resolution,
            "field_settings": asdict(self.field.settings),
            "plate": torch.as_tensor(self.plate),
            "K": torch.as_tensor(self.K),
            "size": self.size,
            "samples": self.samples,
            "weight_names": list(self.weight_names),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], tracking: Tracking, device: torch.device | str = "cpu") -> Avatar:
        settings = FieldSettings(**state["field_settings"])
        fs = state["field"]
        field = AvatarField(fs["low"], fs["high"], int(state["resolution"]), settings)
        field.load_state_dict(fs)
        field.to(device).eval()
        return cls(field, state["plate"].numpy(), state["K"].numpy(), int(state["size"]), tracking.head, int(state["samples"]), list(state["weight_names"]))


def load_avatar(folder: Path, device: torch.device | str = "cpu") -> tuple[Avatar, Tracking, dict[str, Any]]:
    """The avatar in ``folder`` (``avatar.pt`` and the tracking it names), that tracking, and the
    saved state."""
    from recon_avatar.checkpoint import FILENAME, load

    state = load(folder / FILENAME)
    tracking = Tracking.load(folder / state["tracking"])
    return Avatar.from_state(state["avatar"], tracking, device), tracking, state
