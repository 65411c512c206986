"""The ``recon`` command line: a thin click layer over the library.

``main()`` builds a fresh command group per run, so every run has its own plugin manager.
Exit codes: see :class:`recon.errors.ExitCode`.
"""

from __future__ import annotations

import sys

import click

from recon import __version__
from recon.cli.app import ReconGroup, hard_stop
from recon.cli.golden_cmd import golden
from recon.cli.plugins_cmd import plugins
from recon.cli.reconstruct_cmd import reconstruct
from recon.errors import terminate_on_signals

__all__ = ["main", "make_cli"]


def make_cli() -> click.Group:
    """A new ``recon`` group with the built-in commands; plugins add theirs when it runs."""

    @click.group(
        cls=ReconGroup,
        context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
        epilog="Exit codes: 0 ok, 1 internal error, 2 usage, 3 bad input, 4 plugin error, 5 golden mismatch.",
    )
    @click.version_option(__version__, "--version", prog_name="recon")
    @click.option("--strict-plugins", is_flag=True, help="Fail (exit 4) when any plugin fails to load or register.")
    @click.option("--debug", is_flag=True, help="Show the traceback of internal errors.")
    def cli(strict_plugins: bool, debug: bool) -> None:
        """recon: photos, video or point clouds to meshes you open in Blender.

        \b
        Examples:
          recon reconstruct assets/demo_scene -o out/demo
          recon plugins --json
          recon golden check out/demo/mesh.glb tests/golden/demo.npz
        """

    for command in (reconstruct, plugins, golden):
        cli.add_command(command)
    return cli


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point."""
    terminate_on_signals(hard_stop)
    make_cli().main(args=argv, prog_name="recon")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
