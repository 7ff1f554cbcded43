"""Shared fixtures for the subscriber tests: a database per backend (SQLite file, PostgreSQL
database of its own), the subscriber app on it with fixtures/sample.json imported, served by a
real uvicorn on 127.0.0.1. PostgreSQL comes from test_catalogue_store's `pg_admin_url`.

Usage: `from subscriber_db import Served, database_url, pg_admin_url, served  # noqa: F401`
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from api.app import create_app
from catalogue import db, store
from catalogue.importer import import_file
from tests.support.postgres import admin_sql

# The subscriber API's paths, as the tests call them.
ORDERS = "/tmf-api/productOrderingManagement/v4/productOrder"
SERVICE_ORDER = "/tmf-api/serviceOrdering/v4/serviceOrder"
SERVICES = "/tmf-api/serviceInventory/v4/service"
BILL = "/tmf-api/customerBillManagement/v4/customerBill"
DEVICES = "/tmf-api/subscriber/v1/device"
RENTALS = "/tmf-api/subscriber/v1/rental"
SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "sample.json"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """An empty database for this module on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('subscriber') / 'vod.db'}"
        return
    admin = request.getfixturevalue("pg_admin_url")
    name = f"vod_sub_{uuid.uuid4().hex[:12]}"
    admin_sql(admin, f'CREATE DATABASE "{name}"')
    try:
        yield admin.rsplit("/", 1)[0] + f"/{name}"
    finally:
        admin_sql(admin, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Served:
    url: str
    app: FastAPI


def _serve(app: FastAPI, **config: Any) -> tuple[uvicorn.Server, threading.Thread, str]:
    """uvicorn on a free loopback port in a thread, once it accepts; `config` as uvicorn's."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = {"log_level": "warning", **config}
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, **options))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    return srv, thread, f"http://127.0.0.1:{port}"


@contextmanager
def running(app: FastAPI, **config: Any) -> Iterator[str]:
    """`app` served by uvicorn on loopback for the block; yields its base URL."""
    srv, thread, url = _serve(app, **config)
    try:
        yield url
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture
def operator_http(served: Served, operator_headers: dict[str, str]) -> Iterator[httpx.Client]:
    """A client of the served app, calling as an operator."""
    with httpx.Client(base_url=served.url, timeout=30, headers=operator_headers) as client:
        yield client


@pytest.fixture(scope="module")
def served(database_url: str) -> Iterator[Served]:
    """The subscriber app (catalogue included) with the sample title imported, on loopback."""
    app = create_app(database_url)
    with db.session_scope(app.state.engine) as session:
        store.import_windows(session, import_file(SAMPLE).windows)
    srv, thread, url = _serve(app)
    try:
        yield Served(url, app)
    finally:
        srv.should_exit = True
        thread.join(10)
        app.state.engine.dispose()
