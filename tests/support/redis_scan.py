"""Looking for secrets in Redis: every command written to one database while a job runs
(MONITOR), every value a database holds, and Celery's broker messages with their base64 bodies
decoded (kombu's Redis transport base64-encodes task arguments inside a JSON envelope, so a
plain byte scan of a queue would never see a key passed as an argument).
"""

from __future__ import annotations

import base64
import codecs
import json
import re
import socket
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis

_ARG = re.compile(rb'"((?:[^"\\]|\\.)*)"')


@dataclass
class Traffic:
    """Commands sent to one database, each as its list of arguments (command name first)."""

    commands: list[list[bytes]] = field(default_factory=list)

    def named(self, *names: str) -> list[list[bytes]]:
        wanted = {n.upper().encode() for n in names}
        return [c for c in self.commands if c and c[0].upper() in wanted]


def _parse_monitor(raw: bytes, db: int) -> Traffic:
    """MONITOR lines (`+<time> [<db> <client>] "CMD" "arg" ...`, C-escaped) for database `db`."""
    traffic = Traffic()
    for line in raw.split(b"\r\n"):
        head, sep, rest = line.partition(b"] ")
        if not sep or not head.startswith(b"+") or b" [" not in head:
            continue
        if head.split(b" [", 1)[1].split(b" ", 1)[0] != str(db).encode():
            continue
        traffic.commands.append([codecs.escape_decode(a)[0] for a in _ARG.findall(rest)])
    return traffic


@contextmanager
def monitor(url: str) -> Iterator[Traffic]:
    """Record every command sent to the database of `url` during the block (filled on exit)."""
    kwargs = redis.Redis.from_url(url).connection_pool.connection_kwargs
    db = int(kwargs.get("db", 0))
    sock = socket.create_connection((kwargs.get("host", "127.0.0.1"), kwargs.get("port", 6379)))
    sock.settimeout(0.2)
    sock.sendall(b"MONITOR\r\n")
    chunks: list[bytes] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                data = sock.recv(1 << 16)
            except TimeoutError:
                continue
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    traffic = Traffic()
    try:
        yield traffic
    finally:
        stop.set()
        reader.join(5)
        sock.close()
        traffic.commands += _parse_monitor(b"".join(chunks), db).commands


def with_bodies(blob: bytes) -> list[bytes]:
    """`blob` and, when it is (or holds) a kombu envelope, its base64 body decoded."""
    out = [blob]
    try:
        doc = json.loads(blob)
    except (ValueError, UnicodeDecodeError):
        return out
    for node in _walk(doc):
        props = node.get("properties")
        body = node.get("body")
        encoded = isinstance(props, dict) and props.get("body_encoding") == "base64"
        if isinstance(body, str) and encoded:
            out.append(base64.b64decode(body))
    return out


def _walk(doc: Any) -> Iterator[dict]:
    if isinstance(doc, dict):
        yield doc
        for value in doc.values():
            yield from _walk(value)
    elif isinstance(doc, list):
        for value in doc:
            yield from _walk(value)


def stored_values(client: redis.Redis) -> dict[bytes, list[bytes]]:
    """Every key of the client's database and the values it holds (any Redis type)."""
    out: dict[bytes, list[bytes]] = {}
    for key in client.scan_iter(count=500):
        kind = client.type(key)
        if kind == b"string":
            values = [client.get(key) or b""]
        elif kind == b"hash":
            values = [v for kv in client.hgetall(key).items() for v in kv]
        elif kind == b"list":
            values = client.lrange(key, 0, -1)
        elif kind == b"set":
            values = list(client.smembers(key))
        elif kind == b"zset":
            values = list(client.zrange(key, 0, -1))
        else:
            values = []
        out[key] = [key, *values]
    return out


def secret_forms(secret: bytes) -> list[bytes]:
    """How a key could be written down: raw, hex, base64 and base64url (padded or not)."""
    b64, url = base64.b64encode(secret), base64.urlsafe_b64encode(secret)
    return [secret, secret.hex().encode(), secret.hex().upper().encode(),
            b64, b64.rstrip(b"="), url, url.rstrip(b"=")]  # fmt: skip


def leaks(blobs: Iterable[bytes], secrets: Iterable[bytes]) -> list[tuple[str, bytes]]:
    """(secret hex, blob start) for every blob holding any form of any secret."""
    forms = {s.hex(): secret_forms(s) for s in secrets}
    found = []
    for blob in blobs:
        for decoded in with_bodies(blob):
            for name, variants in forms.items():
                if any(v in decoded for v in variants):
                    found.append((name, blob[:120]))
    return found
