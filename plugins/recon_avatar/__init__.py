"""Built-in avatar plugin: a dynamic neural head avatar from one video.

``recon avatar train CLIP -o AVATAR/`` tracks the clip with the face plugin's ``face_video``
method, holds out every 10th frame and trains a radiance field anchored to the tracked head
(:mod:`recon_avatar.shell`: samples in a thin shell around the posed mesh, mapped to the canonical
head; :mod:`recon_avatar.field`: tri-planes and a small MLP conditioned on the 51 ARKit weights,
pure PyTorch, the same code on a CPU and a GPU). ``recon avatar render`` drives it with another
clip, a turntable or a Live Link Face CSV. See :mod:`recon_avatar.run` for the folder's files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recon import hookimpl

if TYPE_CHECKING:
    import click

__version__ = "0.1.0"


@hookimpl
def recon_register_commands(cli: click.Group) -> None:
    from recon_avatar.cli import register

    register(cli)
