"""Built-in plugin ``recon_batch``: ``recon batch``, many captures at once on Ray.

Every subfolder or file of CAPTURES (or every row of a CSV/JSON manifest) is one
``recon reconstruct`` run into ``OUT/<capture>/``, through :func:`recon.pipeline.reconstruct`
(the single-run code path, atomic outputs). Ray runs them: a local Ray by default, a running
cluster with ``--address``. Finished captures are skipped on a rerun; ``OUT/batch.json`` lists
every capture with its status, time and error.

Ray is an optional extra (``pip install 'recon[batch]'``); without it ``recon batch`` says how
to get it. Nothing heavy is imported here (``recon --help`` imports every plugin).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from recon import hookimpl

if TYPE_CHECKING:
    import click

__version__ = "0.1.0"


@hookimpl
def recon_register_commands(cli: click.Group) -> None:
    from recon_batch.cli import batch

    cli.add_command(batch)
