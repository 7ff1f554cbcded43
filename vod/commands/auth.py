"""`vod auth init` and `vod auth token`: the development issuer, so the API can be run and tried
with real bearer tokens and no external identity provider.

    vod auth init                        # ES256 key pair + jwks.json in the config folder
    export VOD_AUTH_JWKS=$(vod auth init --print-jwks-path)
    export VOD_API_TOKEN=$(vod auth token --role operator)
    vod auth token --role subscriber --customer alice --ttl 900
"""

from __future__ import annotations

from pathlib import Path

import click

from vod.errors import friendly_errors

APP_NAME = "vod-pipeline"


def default_dir() -> Path:
    """VOD_AUTH_DIR, else `<user config folder>/vod-pipeline/auth` (XDG on Linux)."""
    from core.settings import settings

    return settings().auth_dir or Path(click.get_app_dir(APP_NAME)) / "auth"


dir_option = click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Key folder (default: $VOD_AUTH_DIR or the user config folder).",
)


@click.group("auth")
def auth_group() -> None:
    """Development identity provider: keys and bearer tokens for the API."""


@auth_group.command("init")
@dir_option
@click.option("--force", is_flag=True, help="Replace an existing key (its tokens stop working).")
@click.option("--print-jwks-path", is_flag=True, help="Print only the jwks.json path.")
@friendly_errors
def init_cmd(folder: Path | None, force: bool, print_jwks_path: bool) -> None:
    """Write an ES256 key pair: private.pem (0600) and jwks.json (what the API verifies with).
    With an existing key and no --force, keeps it and prints where it is."""
    from auth import dev_issuer
    from core.errors import Conflict

    folder = folder or default_dir()
    jwks = folder / dev_issuer.JWKS_FILE
    try:
        jwks = dev_issuer.init(folder, force=force)
        made = True
    except Conflict:
        if not jwks.is_file():
            raise
        made = False
    if print_jwks_path:
        click.echo(str(jwks))
        return
    what = "wrote" if made else "kept the existing key in"
    click.echo(f"{what} {folder} (private.pem is yours alone; share only jwks.json)")
    click.echo(f"API:   export VOD_AUTH_JWKS={jwks}")
    click.echo("token: export VOD_API_TOKEN=$(vod auth token --role operator)")


@auth_group.command("token")
@dir_option
@click.option("--role", type=click.Choice(["operator", "subscriber"]), required=True)
@click.option("--customer", help="The subscriber's customer id (its `sub`).")
@click.option("--subject", help="An operator's `sub` (default: operator).")
@click.option("--ttl", default=3600, show_default=True, type=click.IntRange(1, 30 * 24 * 3600),
              help="Seconds the token is valid.")  # fmt: skip
@friendly_errors
def token_cmd(
    folder: Path | None, role: str, customer: str | None, subject: str | None, ttl: int
) -> None:
    """Print an access token (RFC 9068 JWT) signed by the development key, iss VOD_AUTH_ISSUER
    (default vod-dev), aud vod-api. Only the token goes to stdout."""
    from auth import dev_issuer
    from core.settings import settings

    s = settings()
    token = dev_issuer.mint(
        folder or default_dir(),
        role=role,
        customer=customer,
        subject=subject,
        ttl=ttl,
        issuer=s.auth_issuer,
        audience=s.auth_audience,
    )
    click.echo(token)
