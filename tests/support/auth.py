"""Authentication for the tests: one development issuer for the whole session (`vod auth init`'s
key pair in a temp folder), exported as VOD_AUTH_JWKS/VOD_AUTH_DIR so every app and `vod` process
the tests start verifies its tokens, and helpers to mint tokens and headers.

    def test_x(dev_auth: DevAuth) -> None:
        headers = dev_auth.headers("subscriber", customer="c1")
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from auth import dev_issuer
from auth.principal import OPERATOR
from auth.verify import TokenVerifier

ISSUER, AUDIENCE = "vod-dev", "vod-api"


@dataclass(frozen=True)
class DevAuth:
    folder: Path
    jwks: Path

    def token(self, role: str = OPERATOR, customer: str | None = None, **kw: Any) -> str:
        options = {"issuer": ISSUER, "audience": AUDIENCE, **kw}
        return dev_issuer.mint(self.folder, role=role, customer=customer, **options)

    def headers(self, role: str = OPERATOR, customer: str | None = None, **kw: Any) -> dict:
        return {"Authorization": f"Bearer {self.token(role, customer, **kw)}"}

    def subscriber(self, customer: str) -> dict[str, str]:
        return self.headers("subscriber", customer)

    def verifier(self) -> TokenVerifier:
        return TokenVerifier(str(self.jwks), issuer=ISSUER, audience=AUDIENCE)


@pytest.fixture(scope="session", autouse=True)
def dev_auth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevAuth]:
    """The session's development issuer, exported to the environment of the whole run."""
    folder = tmp_path_factory.mktemp("auth")
    jwks = dev_issuer.init(folder)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("VOD_AUTH_JWKS", str(jwks))
        mp.setenv("VOD_AUTH_DIR", str(folder))
        mp.delenv("VOD_API_TOKEN", raising=False)
        yield DevAuth(folder, jwks)


def current() -> DevAuth:
    """The session's issuer, for helpers that are not fixtures (the autouse fixture exported
    its folder as VOD_AUTH_DIR)."""
    folder = Path(os.environ["VOD_AUTH_DIR"])
    return DevAuth(folder, folder / dev_issuer.JWKS_FILE)


@pytest.fixture(scope="session")
def operator_headers(dev_auth: DevAuth) -> dict[str, str]:
    """An operator's bearer header, valid for a day (the tests' default caller)."""
    return dev_auth.headers(OPERATOR, ttl=24 * 3600)
