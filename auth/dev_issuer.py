"""The development issuer: an ES256 key pair in a folder and the tokens it signs, so a newcomer
and the tests need no external identity provider.

`init` writes `private.pem` (mode 0600, created exclusively) and `jwks.json` (the public key,
`kid` = its RFC 7638 thumbprint); point the API at the latter with `VOD_AUTH_JWKS`. `mint` signs
an RFC 9068 access token (`typ: at+jwt`, `iss`, `aud`, `sub`, `client_id`, `iat`, `exp`, `jti`)
with a `roles` claim. A real deployment uses its identity provider instead and keeps this off.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from auth.principal import OPERATOR, ROLES, SUBSCRIBER
from core.errors import BadInput, ConfigError, Conflict

PRIVATE_KEY = "private.pem"
JWKS_FILE = "jwks.json"
CLIENT_ID = "vod-cli"
MAX_TTL = 30 * 24 * 3600


def init(folder: Path, *, force: bool = False) -> Path:
    """A new key pair in `folder`; the path of its jwks.json. Refuses to replace an existing
    key unless `force` (every token it signed would stop working)."""
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    private = folder / PRIVATE_KEY
    if private.exists() and not force:
        raise Conflict(str(private), "a development key exists already (use --force to replace "
                       "it; tokens it signed stop working)", reason="key_exists")  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    tmp = private.with_name(private.name + ".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.replace(tmp, private)
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    jwk.update({"kid": thumbprint(jwk), "alg": "ES256", "use": "sig"})
    jwks = folder / JWKS_FILE
    jwks.write_text(json.dumps({"keys": [jwk]}, indent=1) + "\n", encoding="utf-8")
    return jwks


def thumbprint(jwk: dict[str, str]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url) of an EC public key."""
    from cryptography.hazmat.primitives import hashes
    from jwt.utils import base64url_encode

    members = {k: jwk[k] for k in ("crv", "kty", "x", "y")}
    digest = hashes.Hash(hashes.SHA256())
    digest.update(json.dumps(members, separators=(",", ":"), sort_keys=True).encode())
    return base64url_encode(digest.finalize()).decode()


def mint(
    folder: Path,
    *,
    role: str,
    issuer: str,
    audience: str,
    customer: str | None = None,
    subject: str | None = None,
    ttl: int = 3600,
    now: float | None = None,
) -> str:
    """A signed access token for `role` (a subscriber's `sub` is its customer id)."""
    if role not in ROLES:
        raise BadInput(None, f"role must be one of {', '.join(ROLES)}", reason="bad_role")
    if not 1 <= ttl <= MAX_TTL:
        raise BadInput(None, f"ttl must be 1..{MAX_TTL} seconds", reason="bad_ttl")
    if role == SUBSCRIBER and not customer:
        raise BadInput(None, "a subscriber token needs --customer", reason="customer_required")
    sub = customer if role == SUBSCRIBER else (subject or customer or OPERATOR)
    private = folder / PRIVATE_KEY
    try:
        pem = private.read_bytes()
    except OSError as e:
        raise ConfigError(str(private), f"no development key ({e.strerror}): run "
                          "`vod auth init` first") from None  # fmt: skip
    jwks = json.loads((folder / JWKS_FILE).read_text(encoding="utf-8"))
    kid = jwks["keys"][0]["kid"]
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": sub,
        "client_id": CLIENT_ID,
        "iat": issued,
        "nbf": issued,
        "exp": issued + ttl,
        "jti": uuid.uuid4().hex,
        "roles": [role],
    }
    return jwt.encode(claims, pem, algorithm="ES256", headers={"typ": "at+jwt", "kid": kid})
