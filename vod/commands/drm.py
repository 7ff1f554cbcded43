"""`vod keys show` and `vod keyserver`: click commands the main `vod` group attaches.

`keys show` prints KIDs (public: they are in every manifest); content keys only with
--reveal, with a warning on stderr, because terminals and CI logs keep what they show.
"""

from __future__ import annotations

import ipaddress
import json
import sys
from pathlib import Path
from typing import Any

import click

from drm.keys import kid_uuid
from drm.keystore import default_store_path
from vod.errors import friendly_errors

__all__ = ["keys_group", "keyserver_cmd"]

DEFAULT_KEYSERVER_PORT = 8090


def _open_existing(path: Path | None) -> Any:
    """Open a store for reading; a missing file is an error (LocalKeyStore would create it)."""
    from drm.keystore import LocalKeyStore

    store_path = path or default_store_path()
    if not store_path.exists():
        raise click.ClickException(f"no key store at {store_path} (set --store or $VOD_KEY_STORE)")
    return LocalKeyStore(store_path)


_STORE_OPTION = click.option(
    "--store",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Key store file (default $VOD_KEY_STORE or ~/.local/share/vod-pipeline/keys.sqlite).",
)


@click.group("keys")
def keys_group() -> None:
    """Inspect the content keys of the local key store."""


@keys_group.command("show")
@click.argument("title")
@_STORE_OPTION
@click.option("--reveal", is_flag=True, help="Also print the content keys (hex). Careful.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")
@friendly_errors
def keys_show_cmd(title: str, store: Path | None, reveal: bool, as_json: bool) -> None:
    """Print a title's KIDs per label (AUDIO, SD, HD, UHD)."""
    key_store = _open_existing(store)
    kids = key_store.list_kids(title)
    if not kids:
        raise click.ClickException(f"no keys for title {title!r} in {key_store.path}")
    rows: list[dict[str, str]] = []
    for label, kid in kids.items():
        row = {"label": label, "kid": kid_uuid(kid), "kid_hex": kid.hex()}
        if reveal:
            found = key_store.get(title, label)
            if found is not None:
                row["key_hex"] = found.key.hex()
        rows.append(row)
    if reveal:
        click.echo(
            "warning: printing content keys; anyone who sees this output can decrypt the title",
            err=True,
        )
    if as_json:
        click.echo(json.dumps({"title": title, "store": str(key_store.path), "keys": rows}))
        return
    for row in rows:
        line = f"{row['label']:<6} {row['kid']}"
        click.echo(line + (f"  key={row['key_hex']}" if "key_hex" in row else ""))


@click.command("keyserver")
@_STORE_OPTION
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=DEFAULT_KEYSERVER_PORT, show_default=True)
@click.option(
    "--token",
    default=None,
    envvar="VOD_KEY_SERVER_TOKEN",
    help="Bearer token CPIX clients must send (env VOD_KEY_SERVER_TOKEN).",
)
@friendly_errors
def keyserver_cmd(store: Path | None, host: str, port: int, token: str | None) -> None:
    """Serve CPIX (SPEKE v2-style) key requests and ClearKey licences from the key store."""
    from drm.keyexchange.keyserver import CPIX_PATHS, LICENSE_PATHS, KeyServer, serve_keyserver
    from drm.keystore import LocalKeyStore

    key_store = LocalKeyStore(store or default_store_path())
    if token is None and not _is_loopback(host):
        click.echo(
            f"warning: no --token and listening on {host}: anyone who can reach it gets keys",
            err=True,
        )

    def ready(server: KeyServer) -> None:
        click.echo(f"key store: {key_store.path}", err=True)
        click.echo(f"CPIX:      POST {server.url}{CPIX_PATHS[0]}", err=True)
        click.echo(f"ClearKey:  POST {server.url}{LICENSE_PATHS[0]} (no auth; dev/test)", err=True)
        sys.stderr.flush()

    try:
        serve_keyserver(key_store, host, port, token=token, ready=ready)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
