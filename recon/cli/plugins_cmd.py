"""``recon plugins``: what is installed, where it came from, what it provides, what failed."""

from __future__ import annotations

import json

import click

from recon.cli.app import get_host


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of plugin objects on stdout.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List plugins: name, version, source, hooks, what each registers, and load errors.

    \b
    Example:
      recon plugins --json | python -m json.tool
    """
    host = get_host(ctx)
    host.add_commands(ctx.find_root().command)  # so commands are attributed to their plugins
    rows = [info.as_dict() for info in host.infos()]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        status = f"ERROR: {row['error']}" if row["error"] else "ok"
        click.echo(f"{row['name']} {row['version'] or ''} ({row['source']}) {status}")
        for kind in ("methods", "commands", "readers", "writers"):
            if row[kind]:
                click.echo(f"  {kind}: {', '.join(row[kind])}")
        if row["hooks"]:
            click.echo(f"  hooks: {', '.join(row['hooks'])}")
        for group, found in (row["status"] or {}).items():
            if isinstance(found, dict):
                click.echo(f"  {group}: " + ", ".join(f"{k} {'yes' if v is True else 'no' if v in (False, None) else v}" for k, v in found.items()))
            else:
                click.echo(f"  {group}: {found}")
