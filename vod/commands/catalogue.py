"""`vod catalogue ...`: import rights files, list what is open in a territory, serve the API.

The database is `--database-url`, else `VOD_DATABASE_URL`, else ./catalogue.db (SQLite).
Every failure is one line naming the file, the database or the setting (`friendly_errors`).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from catalogue import db
from core.errors import ConfigError, Conflict, Transient, VodError
from vod.errors import friendly_errors

EXIT_ROW_ERRORS = 1


def _parse_time(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as e:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time") from e
    if t.tzinfo is None:
        raise click.BadParameter(f"{value!r} has no zone: add Z or an offset such as +09:00")
    return t.astimezone(UTC)


@click.group("catalogue")
@click.option(
    "--database-url",
    envvar=db.ENV_URL,
    default=None,
    metavar="URL",
    help="SQLAlchemy URL (default: $VOD_DATABASE_URL, else sqlite:///./catalogue.db).",
)
@click.pass_context
def catalogue(ctx: click.Context, database_url: str | None) -> None:
    """Rights catalogue: windows by territory and time, presentations, entitlements."""
    ctx.ensure_object(dict)
    ctx.obj["catalogue_url"] = database_url or db.database_url()


def _url(ctx: click.Context) -> str:
    return ctx.obj["catalogue_url"]


def _shown(url: str) -> str:
    """The database URL as it may be printed: no password."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparseable URL is shown without its credentials part
        return url.rpartition("@")[2]


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """SQLAlchemy's and Alembic's failures as one-line project errors naming the database."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError

    try:
        yield
    except VodError:
        raise
    except ArgumentError as e:
        raise ConfigError("--database-url / VOD_DATABASE_URL", f"{_shown(url)}: {e}") from None
    except DBAPIError as e:
        cause = str(e.orig).strip().splitlines()[0] if e.orig else type(e).__name__
        raise Transient(_shown(url), f"database error: {cause}", reason="database_error") from None
    except (SQLAlchemyError, CommandError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise Conflict(_shown(url), f"database: {first}", reason="database_error") from None


@catalogue.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
@friendly_errors
def import_cmd(ctx: click.Context, file: Path) -> None:
    """Import an Avails (XML/XLSX) or JSON rights file; re-importing changes nothing.

    Valid rows are stored even when others are rejected; rejected rows are listed on stderr
    and the exit status is 1.
    """
    try:
        from catalogue.importer import import_file
    except ImportError as e:
        raise click.ClickException(f"no importer available: {e}") from e
    from catalogue.store import import_windows

    result = import_file(file)
    with database_errors(_url(ctx)):
        engine = db.setup(_url(ctx))
        try:
            with db.session_scope(engine) as session:
                counts = import_windows(session, result.windows)
        finally:
            engine.dispose()
    click.echo(f"{file}: {len(result.windows)} windows: {counts}; {len(result.errors)} errors")
    for error in result.errors:
        click.echo(f"error: {error}", err=True)
    if result.errors:
        sys.exit(EXIT_ROW_ERRORS)


@catalogue.command("list")
@click.option("--territory", required=True, help="ISO 3166-1 alpha-2 country, e.g. GB.")
@click.option("--at", "at", default=None, help="ISO 8601 time with a zone (default: now).")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="One JSON array of entries.")
@click.pass_context
@friendly_errors
def list_cmd(ctx: click.Context, territory: str, at: str | None, limit: int, as_json: bool) -> None:
    """Titles with a window open in TERRITORY at a time: id, name, licence/format offers,
    packaging, and the language versions open (e.g. "en,fr (dub)"; "any" = no language)."""
    from catalogue.store import browse
    from catalogue.views import version_label

    if len(territory) != 2 or not territory.isalpha():
        raise click.BadParameter("use a two-letter ISO 3166-1 code", param_hint="--territory")
    when = _parse_time(at)
    with database_errors(_url(ctx)):
        engine = db.setup(_url(ctx))
        try:
            with db.session_factory(engine)() as session:
                entries = browse(session, territory.upper(), when, limit=limit)
        finally:
            engine.dispose()
    if as_json:
        click.echo(json.dumps([e.model_dump(mode="json") for e in entries], indent=2))
        return
    for e in entries:
        kinds = ",".join(sorted({f"{o.license_type}/{o.format_profile}" for o in e.offers}))
        packaged = f"{e.max_height}p" if e.packaged else "not packaged"
        versions = ",".join(sorted({version_label(o) for o in e.offers}))
        click.echo(f"{e.title_id}\t{e.name or ''}\t{kinds}\t{packaged}\t{versions}")
    click.echo(f"{len(entries)} titles open in {territory.upper()} at {when.isoformat()}", err=True)


@catalogue.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8081, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--playback-config",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    envvar="VOD_PLAYBACK_CONFIG",
    help="playback.yaml: CDN origins (Akamai/CloudFront), secrets, Redis, key store.",
)
@click.option(
    "--no-auth",
    is_flag=True,
    help="Serve without bearer tokens, every caller an operator: loopback only, for trials.",
)
@click.option(
    "--origin-url",
    envvar="VOD_ORIGIN_URL",
    help="Without a config file: the origin/CDN base URL sessions sign (default "
    "http://127.0.0.1:8000).",
)
@click.option(
    "--key-store",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="VOD_KEY_STORE",
    help="Key store the licence proxy releases keys from.",
)
@click.option(
    "--redis-url",
    envvar="VOD_PLAYBACK_REDIS_URL",
    help="Redis for sessions, stream slots and QoE (default: VOD_REDIS_URL, database +2).",
)
@click.pass_context
@friendly_errors
def serve_cmd(
    ctx: click.Context,
    host: str,
    port: int,
    playback_config: Path | None,
    no_auth: bool,
    origin_url: str | None,
    key_store: Path | None,
    redis_url: str | None,
) -> None:
    """Serve the API: catalogue, subscriber activation (TMF), playback sessions, licence proxy,
    CMCD/QoE and the console (OpenAPI at /openapi.json, docs at /docs, console at /console).

    Every route but /health and the OpenAPI document needs a bearer token verified against
    VOD_AUTH_JWKS (`vod auth init` makes a development one); without it the API refuses to start
    unless --no-auth is given. The CDN token secret comes from VOD_TOKEN_SECRET or the playback
    config file, never from the command line."""
    import os

    import uvicorn

    from api import access_log
    from api.app import create_app
    from core.settings import settings
    from playback.config import PlaybackConfig

    env = dict(os.environ)
    for name, value in (("VOD_PLAYBACK_CONFIG", playback_config), ("VOD_ORIGIN_URL", origin_url),
                        ("VOD_KEY_STORE", key_store),
                        ("VOD_PLAYBACK_REDIS_URL", redis_url)):  # fmt: skip
        if value:
            env[name] = str(value)
    wanted = settings(env)  # these options over the environment
    config = None  # none asked for: create_app says playback is off, and why
    if wanted.playback_config or wanted.token_secret:
        config = PlaybackConfig.load(env)  # a ConfigError names the setting: one line, exit 1
    auth = _auth_mode(no_auth, host)
    with database_errors(_url(ctx)):
        app = create_app(_url(ctx), playback=config, auth=auth)
    # Access logs through the credential-redacting filter (`auth=`, `hdnts=`, bearer tokens).
    uvicorn.run(app, host=host, port=port, log_level="info", log_config=access_log.log_config())


def _auth_mode(no_auth: bool, host: str) -> Any:
    """NO_AUTH for `--no-auth` on a loopback host, else None: create_app verifies tokens
    against VOD_AUTH_JWKS (a ConfigError naming it when unset)."""
    from api.auth import NO_AUTH
    from auth.verify import is_loopback

    if not no_auth:
        return None
    if not is_loopback(host):
        raise click.UsageError(f"--no-auth serves on loopback only, not on {host}")
    click.echo("WARNING: --no-auth: every caller is an operator (loopback only)", err=True)
    return NO_AUTH


if __name__ == "__main__":
    catalogue()
