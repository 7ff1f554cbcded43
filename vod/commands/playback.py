"""`vod serve`, `vod device`, `vod play` and `vod qoe`: serve an origin (development server, or
the CDN/origin gateway), register a device, open a playback session and get a watch-page URL
that plays it (licence proxy, CMCD, heartbeats), and read the QoE view; all but `vod serve`
against a running API (`vod catalogue serve`, default http://127.0.0.1:8081)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import click

from core.errors import ConfigError, NotFound
from core.settings import Settings, settings
from vod.commands.api_client import call as _call
from vod.commands.api_client import token_option
from vod.errors import friendly_errors

DEFAULT_API = Settings.model_fields["api_url"].default
api_option = click.option(
    "--api",
    default=DEFAULT_API,
    show_default=True,
    envvar="VOD_API_URL",
    help="Base URL of the API (vod catalogue serve).",
)


def gateway_secret(gateway: bool, secret_file: Path | None) -> str | None:
    """The gateway's token secret from a file or VOD_TOKEN_SECRET, never from the command line
    (where `ps` would show it); None for the development server."""
    if secret_file is not None:
        try:
            secret = secret_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise ConfigError("--token-secret-file", f"cannot read {secret_file}: {e}") from None
        if not secret:
            raise ConfigError("--token-secret-file", f"{secret_file} is empty")
        return secret
    if not gateway:
        return None
    value = settings().token_secret
    if value is None or not value.get_secret_value():
        raise ConfigError(
            "VOD_TOKEN_SECRET", "--gateway takes the secret from VOD_TOKEN_SECRET, which is "
            "not set (or give --token-secret-file PATH)"
        )  # fmt: skip
    return value.get_secret_value()


@click.command("serve")
@click.argument("root", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option(
    "--key-store",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Development server on loopback only: answer ClearKey licence and key requests "
    "(/license/clearkey) from this store. Not with --gateway.",
)
@click.option(
    "--gateway",
    is_flag=True,
    help="Run as the CDN/origin gateway: title requests need CDN tokens signed with "
    "VOD_TOKEN_SECRET; no keys are served.",
)
@click.option(
    "--token-secret-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Read the gateway's token secret from this file (implies --gateway).",
)
@friendly_errors
def serve_cmd(
    root: Path,
    host: str,
    port: int,
    key_store: Path | None,
    gateway: bool,
    token_secret_file: Path | None,
) -> None:
    """Serve an origin directory over HTTP (CORS on) with a player page."""
    from playback.origin.server import serve

    secret = gateway_secret(gateway, token_secret_file)
    if secret is None and settings().token_secret is not None:
        click.echo("note: VOD_TOKEN_SECRET is set but unused: add --gateway to require tokens")
    serve(root, host, port, key_store=key_store, token_secret=secret)


@click.group("device")
def device() -> None:
    """Subscriber devices (the tier's device limit applies)."""


@device.command("register")
@click.option("--customer", required=True)
@click.option("--device", "device_id", required=True)
@click.option(
    "--drm",
    type=click.Choice(["clearkey", "widevine", "playready", "fairplay"]),
    default="clearkey",
    show_default=True,
)
@click.option(
    "--security-level",
    default="ClearKey",
    show_default=True,
    help="L1/L2/L3, SL3000/SL2000/SL150, FairPlay, ClearKey.",
)
@click.option(
    "--device-class",
    default="desktop",
    show_default=True,
    type=click.Choice(["tv", "stb", "console", "desktop", "tablet", "mobile"]),
)
@api_option
@token_option
@friendly_errors
def register(
    customer: str, device_id: str, drm: str, security_level: str, device_class: str, api: str,
    token: str | None,
) -> None:  # fmt: skip
    """Register a device to a customer with an active subscription."""
    body = {
        "customerId": customer,
        "deviceId": device_id,
        "drmSystem": drm,
        "securityLevel": security_level,
        "deviceClass": device_class,
    }
    d = _call("POST", f"{api}/tmf-api/subscriber/v1/device", token, json=body)
    click.echo(
        f"{d['deviceId']} registered to {d['customerId']} ({d['deviceClass']}, "
        f"{d['drmSystem']} {d['securityLevel']})"
    )


def watch_url(session: dict[str, Any], protocol: str) -> str:
    """The `vod serve` watch page playing this session with shaka: keys from the session's
    licence proxy (DASH: its licence URL; HLS: the key URIs the gateway writes into the
    playlists), CMCD event reports and heartbeats wired in."""
    manifest = session["manifests"][protocol]
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(manifest))
    query = {
        "src": manifest,
        "player": "shaka",
        "autoplay": "1",
        "cmcd": session["cmcd"]["url"],
        "sid": session["sessionId"],
        "cid": session["titleId"],
        "heartbeat": session["heartbeat"]["url"],
        "heartbeatEvery": str(session["heartbeat"]["intervalSeconds"]),
    }
    if protocol == "dash":  # a licence server would override shaka's HLS identity keys
        query["licenseUrl"] = session["license"]["url"]
    return f"{origin}/?{urlencode(query)}"


@click.command("play")
@click.option("--customer", required=True)
@click.option("--device", "device_id", required=True)
@click.option("--title", "title_id", required=True)
@click.option("--protocol", type=click.Choice(["dash", "hls"]), default="dash", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the whole session as JSON.")
@api_option
@token_option
@friendly_errors
def play(
    customer: str, device_id: str, title_id: str, protocol: str, as_json: bool, api: str,
    token: str | None,
) -> None:  # fmt: skip
    """Open a playback session and print the URL of a watch page that plays it."""
    body = {"customerId": customer, "deviceId": device_id, "titleId": title_id}
    s = _call("POST", f"{api}/playback/v1/sessions", token, json=body)
    if as_json:
        click.echo(json.dumps(s, indent=2))
        return
    caps = ", ".join(f"{k} {v}p" for k, v in sorted(s["caps"].items()))
    click.echo(
        f"session {s['sessionId']} for {title_id}: up to {s['maxHeight']}p ({caps}); "
        f"{len(s['renditions'])} renditions; expires {s['expiresAt']}"
    )
    click.echo(
        f"streams: {s['streams']['live']} of {s['streams']['limit']} live; "
        f"CDN {s['cdn']['region']} via {s['cdn']['origin']} ({s['cdn']['kind']})"
    )
    if protocol not in s["manifests"]:
        raise NotFound(title_id, f"the title has no {protocol.upper()} manifest")
    click.echo(f"{protocol.upper()}: {s['manifests'][protocol]}")
    click.echo(f"watch: {watch_url(s, protocol)}")


@click.group("qoe")
def qoe() -> None:
    """QoE assurance: KPIs per minute from CMCD, and the alarms they raise."""


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


def _num(v: float | None, unit: str = "") -> str:
    return "-" if v is None else f"{v:,.0f}{unit}"


@qoe.command("kpis")
@click.option("--title", "title_id")
@click.option("--device-class")
@click.option("--cdn")
@click.option("--minutes", default=60, show_default=True, type=click.IntRange(1, 4320))
@click.option("--json", "as_json", is_flag=True)
@api_option
@token_option
@friendly_errors
def kpis(
    title_id: str | None,
    device_class: str | None,
    cdn: str | None,
    minutes: int,
    as_json: bool,
    api: str,
    token: str | None,
) -> None:
    """KPIs per minute, title, device class and CDN."""
    params = {
        k: v
        for k, v in {
            "titleId": title_id,
            "deviceClass": device_class,
            "cdn": cdn,
            "minutes": minutes,
        }.items()
        if v
    }
    data = _call("GET", f"{api}/qoe/v1/kpi", token, params=params)
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(
        f"{'minute (UTC)':17} {'title / device / CDN':38} {'sess':>4} {'VST':>7} "
        f"{'EBVS':>6} {'rebuf':>6} {'fail':>4} {'kbps':>6}"
    )
    for w in data["windows"]:
        k = w["kpis"]
        dims = f"{w['titleId']} / {w['deviceClass']} / {w['cdn']}"
        click.echo(
            f"{w['windowStart'][:16]:17} {dims[:38]:38} {k['sessions']:>4} "
            f"{_num(k['video_start_time_ms'], 'ms'):>7} "
            f"{_pct(k['exits_before_video_start_ratio']):>6} "
            f"{_pct(k['rebuffering_ratio']):>6} {k['playback_failures']:>4} "
            f"{_num(k['average_bitrate_kbps']):>6}"
        )
    if not data["windows"]:
        click.echo("(no CMCD reports in this period)")
    if data.get("rejected"):
        click.echo(f"{data['rejected']} reports rejected (no live session: forged, late or "
                   "released)")  # fmt: skip


@qoe.command("alarms")
@click.option("--state", type=click.Choice(["raised", "cleared"]))
@click.option("--json", "as_json", is_flag=True)
@api_option
@token_option
@friendly_errors
def alarm_list(state: str | None, as_json: bool, api: str, token: str | None) -> None:
    """QoE alarms (TMF642), newest first, with the services they affect."""
    alarms = _call(
        "GET",
        f"{api}/tmf-api/alarmManagement/v4/alarm",
        token,
        params={"state": state} if state else {},
    )
    if as_json:
        click.echo(json.dumps(alarms, indent=2))
        return
    for a in alarms:
        services = ", ".join(f"{s['name']}#{s['id']}" for s in a["affectedService"])
        click.echo(
            f"#{a['id']} {a['state']:<7} {a['perceivedSeverity']:<8} "
            f"{a['specificProblem']} on {a['alarmedObject']['id']} "
            f"(raised {a['alarmRaisedTime'][:19]}; affects {services or 'nothing known'})"
        )
    if not alarms:
        click.echo("(no alarms)")
