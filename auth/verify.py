"""Verifying bearer access tokens (RFC 9068 JWTs) with PyJWT against a JWKS.

The JWKS comes from `VOD_AUTH_JWKS`: a file (re-read when it changes, so keys rotate without a
restart) or the identity provider's https URL (fetched and cached by PyJWT's `PyJWKClient`,
re-fetched when a token names a key it has not seen). The checks are the profile's: an
asymmetric algorithm from a pinned list (never `none` or HMAC, so a public key can never be
used as a shared secret), the `typ` header, `iss`, `aud`, `exp`/`nbf`/`iat` with a small leeway,
and a subject. Every refusal is `Unauthenticated` naming what was wrong and never the token.

A verified token is remembered for up to a minute (never past its `exp`), so a client that sends
the same token on every request pays for the signature check once (`bench/bearer.py`).
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Collection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jwt
from jwt import PyJWKClient, PyJWKSet

from auth.principal import Principal, roles_from_claims
from core.errors import ConfigError, Transient, Unauthenticated
from core.settings import Settings, settings

ALGORITHMS = ("ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "PS384", "EdDSA")
MAX_TOKEN_CHARS = 8192
CACHE_SECONDS = 60
CACHE_SIZE = 4096
SETTING = "VOD_AUTH_JWKS"


def invalid(cause: str) -> Unauthenticated:
    return Unauthenticated(None, f"bearer token refused: {cause}", reason="invalid_token")


class _FileKeys:
    """A JWKS file, re-read when its modification time or size changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int] | None = None
        self._keys: PyJWKSet | None = None
        self._lock = threading.Lock()
        self._load()

    def _load(self) -> PyJWKSet:
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size)
            if self._keys is not None and stamp == self._stamp:
                return self._keys
            keys = PyJWKSet.from_json(self.path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError(SETTING, f"cannot read JWKS {self.path}: {e.strerror}") from None
        except (ValueError, jwt.PyJWKSetError, jwt.PyJWKError) as e:
            raise ConfigError(SETTING, f"{self.path} is not a usable JWKS: {e}") from None
        with self._lock:
            self._keys, self._stamp = keys, stamp
        return keys

    def key_for(self, kid: str | None) -> Any:
        keys = self._load()
        if kid is None:
            if len(keys.keys) == 1:
                return keys.keys[0]
            raise invalid("the token names no key (kid) and the JWKS has several")
        for key in keys.keys:
            if key.key_id == kid:
                return key
        raise invalid(f"unknown signing key {kid!r}")


class _RemoteKeys:
    """The identity provider's JWKS URL, cached by PyJWKClient."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = PyJWKClient(url, cache_jwk_set=True, lifespan=300, timeout=5)

    def key_for(self, kid: str | None) -> Any:
        try:
            if kid is None:
                keys = self.client.get_signing_keys()
                if len(keys) == 1:
                    return keys[0]
                raise invalid("the token names no key (kid) and the JWKS has several")
            return self.client.get_signing_key(kid)
        except jwt.PyJWKClientConnectionError as e:
            raise Transient(self.url, f"identity provider JWKS unreachable: {e}",
                            reason="jwks_unreachable") from None  # fmt: skip
        except jwt.PyJWKClientError as e:
            raise invalid(str(e)) from None


def is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def key_source(where: str) -> _FileKeys | _RemoteKeys:
    """The JWKS at `where`: https URL (http only on loopback), or a file."""
    parts = urlsplit(where)
    if parts.scheme in ("http", "https"):
        if parts.scheme == "http" and not is_loopback(parts.hostname):
            raise ConfigError(SETTING, f"{where}: a JWKS URL must be https (http only on loopback)")
        return _RemoteKeys(where)
    if parts.scheme and len(parts.scheme) > 1:
        raise ConfigError(SETTING, f"{where}: expected a file path or an https URL")
    return _FileKeys(Path(where).expanduser())


class TokenVerifier:
    """Turns `Authorization: Bearer` tokens into principals, or refuses them (401)."""

    def __init__(
        self,
        jwks: str,
        *,
        issuer: str,
        audience: str,
        leeway: int = 30,
        token_types: Collection[str] = ("at+jwt", "application/at+jwt"),
    ) -> None:
        self.keys = key_source(jwks)
        self.issuer, self.audience, self.leeway = issuer, audience, leeway
        self.token_types = {t.strip().lower() for t in token_types if t.strip()}
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._cache_lock = threading.Lock()

    @classmethod
    def from_settings(cls, s: Settings | None = None) -> TokenVerifier | None:
        """The verifier the settings describe; None when VOD_AUTH_JWKS is unset."""
        s = s or settings()
        if not s.auth_jwks:
            return None
        return cls(
            s.auth_jwks,
            issuer=s.auth_issuer,
            audience=s.auth_audience,
            leeway=s.auth_leeway,
            token_types=s.auth_token_types.split(","),
        )

    def verify(self, token: str) -> Principal:
        """The principal of a valid token; `Unauthenticated` (or `Transient` when the IdP's
        JWKS cannot be fetched) otherwise."""
        if len(token) > MAX_TOKEN_CHARS:
            raise invalid("too long")
        now = time.time()
        hit = self._verified.get(token)
        if hit is not None and now < hit[1]:
            return hit[0]
        principal, expires = self._verify(token)
        self._remember(token, principal, min(expires, now + CACHE_SECONDS))
        return principal

    def _remember(self, token: str, principal: Principal, until: float) -> None:
        with self._cache_lock:
            if len(self._verified) >= CACHE_SIZE:
                now = time.time()
                self._verified = {t: v for t, v in self._verified.items() if v[1] > now}
                if len(self._verified) >= CACHE_SIZE:
                    self._verified.clear()
            self._verified[token] = (principal, until)

    def _verify(self, token: str) -> tuple[Principal, float]:
        """The principal and the token's expiry, checked in full."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise invalid("malformed") from None
        alg = header.get("alg")
        if alg not in ALGORITHMS:
            raise invalid(f"algorithm {alg!r} is not accepted")
        typ = str(header.get("typ") or "").lower()
        if typ not in self.token_types:
            raise invalid(f"not an access token (typ {header.get('typ')!r}, RFC 9068 wants at+jwt)")
        kid = header.get("kid")
        key = self.keys.key_for(kid if isinstance(kid, str) else None)
        try:
            claims = jwt.decode(
                token,
                key=key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            raise invalid("expired") from None
        except jwt.ImmatureSignatureError:
            raise invalid("not valid yet") from None
        except jwt.InvalidAudienceError:
            raise invalid(f"wrong audience (this API is {self.audience!r})") from None
        except jwt.InvalidIssuerError:
            raise invalid("unknown issuer") from None
        except jwt.InvalidSignatureError:
            raise invalid("bad signature") from None
        except jwt.MissingRequiredClaimError as e:
            raise invalid(f"missing claim {e.claim!r}") from None
        except jwt.InvalidTokenError as e:
            raise invalid(f"invalid ({type(e).__name__})") from None
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject or len(subject) > 100:
            raise invalid("bad subject")
        client = claims.get("client_id") or claims.get("azp")
        principal = Principal(
            subject=subject,
            roles=roles_from_claims(claims),
            client_id=client if isinstance(client, str) else None,
        )
        return principal, float(claims["exp"])
