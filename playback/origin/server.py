"""Starting an origin: the development server (`vod serve DIR`) or, with a token secret, the
CDN/origin gateway (`vod serve DIR --token-secret S`). Binding and the console banner only; what
each serves lives in `devserver` and `gateway`, the file serving they share in `files`.
"""

from __future__ import annotations

from pathlib import Path

from drm.keystore import LocalKeyStore
from playback.origin.devserver import (
    LICENSE_PATH,
    PLAYER_LIBS,
    DevHandler,
    OriginServer,
    find_titles,
    player_libs_dir,
)
from playback.origin.files import base_url
from playback.origin.gateway import GatewayHandler

__all__ = ["base_url", "make_server", "serve"]


def make_server(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    player_libs: Path | None = None,
    key_store: Path | None = None,
    token_secret: bytes | str | None = None,
) -> OriginServer:
    """Bind (port 0 picks a free one) without serving; callers run serve_forever().

    With `key_store`, POST /license/clearkey answers W3C ClearKey licence requests from it.
    With `token_secret`, it is the gateway: every title request needs a valid CDN token
    (playback.tokens) in a `/__token__/<token>/` path prefix or a `hdnts` query parameter,
    else 403.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"origin root is not a directory: {root}")
    store = LocalKeyStore(key_store) if key_store is not None else None
    if isinstance(token_secret, str):
        token_secret = token_secret.encode()
    if token_secret is not None and not token_secret:
        raise ValueError("token secret must not be empty")
    libs = player_libs or player_libs_dir()
    handler = DevHandler if token_secret is None else GatewayHandler
    return OriginServer((host, port), root, libs, store, token_secret, handler)


def serve(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    key_store: Path | None = None,
    token_secret: bytes | str | None = None,
) -> None:
    """Serve until Ctrl-C, printing the watch page and title URLs."""
    server = make_server(root, host, port, key_store=key_store, token_secret=token_secret)
    url = base_url(server)
    print(f"Serving {Path(root).resolve()} at {url}/")
    if key_store is not None:
        print(f"ClearKey licences: POST {url}{LICENSE_PATH} (keys from {key_store})")
    if token_secret:
        print("CDN tokens required: /__token__/<token>/<title>/... or ?hdnts=<token>")
    titles = find_titles(Path(root))
    for title in titles:
        print(f"  {title['id']}: {url}/?title={title['id']}&autoplay=1")
    if not titles:
        print("  (no titles yet: a title is a folder with master.m3u8 or manifest.mpd)")
    if not all((player_libs_dir() / rel).is_file() for rel in PLAYER_LIBS.values()):
        print("  player libraries missing: run scripts/setup.sh to install them")
    print(f"Watch page: {url}/   (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
