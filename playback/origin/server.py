"""Starting an origin: the development server (`vod serve DIR`) or, with a token secret, the
CDN/origin gateway (`vod serve DIR --gateway`). Binding, the rules on what may be combined, and
the console banner; what each serves lives in `devserver` and `gateway`, the file serving they
share in `files`.

The gateway never serves keys, so it takes no key store. The development server's ClearKey
endpoints answer anyone who asks, so with a key store it binds to a loopback address only.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from core.errors import ConfigError
from drm.keystore import LocalKeyStore
from playback.origin.devserver import (
    ECHO_PATH,
    LICENSE_PATH,
    PLAYER_LIBS,
    DevHandler,
    OriginServer,
    find_titles,
    player_libs_dir,
)
from playback.origin.files import base_url
from playback.origin.gateway import GatewayHandler

__all__ = ["base_url", "is_loopback", "make_server", "serve"]


def is_loopback(host: str) -> bool:
    """Whether `host` names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_combination(host: str, key_store: Path | None, gateway: bool) -> None:
    """ConfigError (one line) for a key store on the gateway, or on a non-loopback dev server."""
    if key_store is not None and gateway:
        raise ConfigError(
            "--key-store",
            "the gateway serves no keys, so it takes no key store: keys are delivered only by "
            "the API's session licence proxy (drop --key-store)",
        )
    if key_store is not None and not is_loopback(host):
        raise ConfigError(
            "--key-store",
            f"the development server's ClearKey endpoints are open to anyone, so with a key "
            f"store it binds to loopback only (--host 127.0.0.1), not {host!r}",
        )


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

    With `key_store` (loopback hosts only), POST /license/clearkey answers W3C ClearKey licence
    requests from it and GET /license/clearkey/<kid> delivers raw keys. With `token_secret`, it
    is the gateway (no key store): every title request needs a valid CDN token
    (playback.tokens) in a `/__token__/<token>/` path prefix or a `hdnts` query parameter,
    else 403, and the ClearKey endpoints answer 404.
    """
    root = Path(root)
    if not root.is_dir():
        raise NotADirectoryError(f"origin root is not a directory: {root}")
    if isinstance(token_secret, str):
        token_secret = token_secret.encode()
    if token_secret is not None and not token_secret:
        raise ValueError("token secret must not be empty")
    check_combination(host, key_store, token_secret is not None)
    store = LocalKeyStore(key_store) if key_store is not None else None
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
    if token_secret:
        print("Gateway: CDN tokens required: /__token__/<token>/<title>/... or ?hdnts=<token>")
        print("  no keys served here: players get them from the API's session licence proxy")
    else:
        print(
            "Development server: its ClearKey endpoints are OPEN (no authentication), for "
            f"development only: POST {url}{ECHO_PATH} (echoes keys the page passes)"
        )
        if key_store is not None:
            print(
                f"  and keys from {key_store}: POST {url}{LICENSE_PATH}, "
                f"GET {url}{LICENSE_PATH}/<kid hex>"
            )
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
