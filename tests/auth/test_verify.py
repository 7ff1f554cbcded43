"""Token verification and roles without HTTP: which claims make which roles, a JWKS file that
changes (key rotation without a restart), the `typ` rule and its setting, absurd tokens."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from auth import dev_issuer
from auth.principal import LOCAL_OPERATOR, Principal, roles_from_claims
from auth.verify import TokenVerifier
from core.errors import ConfigError, Unauthenticated


@pytest.mark.parametrize(
    ("claims", "roles"),
    [
        ({"roles": ["operator"]}, {"operator"}),
        ({"roles": "subscriber"}, {"subscriber"}),
        ({"realm_access": {"roles": ["offline_access", "operator"]}}, {"operator"}),
        ({"scope": "openid vod:subscriber profile"}, {"subscriber"}),
        ({"roles": ["admin"], "scope": "openid"}, set()),
        ({"roles": [1, None, {"x": 1}]}, set()),
    ],
)
def test_roles_come_from_roles_realm_access_or_scope(claims: dict, roles: set[str]) -> None:
    assert roles_from_claims(claims) == roles


def test_ownership_rules() -> None:
    alice = Principal("alice", frozenset({"subscriber"}))
    assert alice.customer == "alice" and alice.may_act_for("alice")
    assert not alice.may_act_for("bob") and not alice.is_operator
    assert LOCAL_OPERATOR.may_act_for("bob") and LOCAL_OPERATOR.customer is None


def _verifier(jwks: Path, **kw: object) -> TokenVerifier:
    return TokenVerifier(str(jwks), issuer="vod-dev", audience="vod-api", **kw)  # type: ignore[arg-type]


def _token(folder: Path, **kw: object) -> str:
    return dev_issuer.mint(folder, role="subscriber", customer="c1", issuer="vod-dev",
                           audience="vod-api", **kw)  # type: ignore[arg-type]  # fmt: skip


def test_a_rotated_jwks_file_is_read_again(tmp_path: Path) -> None:
    jwks = dev_issuer.init(tmp_path / "k")
    verifier = _verifier(jwks)
    seen, unseen = _token(tmp_path / "k"), _token(tmp_path / "k")  # same key, other jti
    assert verifier.verify(seen).customer == "c1"
    dev_issuer.init(tmp_path / "k", force=True)
    os.utime(jwks, ns=(time.time_ns() + 10**9,) * 2)  # a new mtime even on coarse clocks
    with pytest.raises(Unauthenticated, match="unknown signing key"):
        verifier.verify(unseen)
    # A token verified before is remembered for at most a minute (never past its exp).
    assert verifier.verify(seen).customer == "c1"
    assert verifier.verify(_token(tmp_path / "k")).subject == "c1"


def test_typ_rule_and_its_setting(tmp_path: Path) -> None:
    import jwt

    jwks = dev_issuer.init(tmp_path)
    token = _token(tmp_path)
    claims = jwt.decode(token, options={"verify_signature": False})
    pem = (tmp_path / dev_issuer.PRIVATE_KEY).read_bytes()
    kid = jwt.get_unverified_header(token)["kid"]
    plain = jwt.encode(claims, pem, "ES256", headers={"typ": "JWT", "kid": kid})
    with pytest.raises(Unauthenticated, match="not an access token"):
        _verifier(jwks).verify(plain)
    assert _verifier(jwks, token_types=("at+jwt", "JWT")).verify(plain).subject == "c1"


def test_absurd_and_missing_inputs(tmp_path: Path) -> None:
    jwks = dev_issuer.init(tmp_path)
    with pytest.raises(Unauthenticated, match="too long"):
        _verifier(jwks).verify("a" * 100_000)
    with pytest.raises(ConfigError, match="VOD_AUTH_JWKS"):
        _verifier(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text('{"keys": "nope"}')
    with pytest.raises(ConfigError, match="not a usable JWKS"):
        _verifier(tmp_path / "bad.json")
    with pytest.raises(ConfigError, match="https"):
        _verifier(Path("ftp://idp.example/jwks.json"))


def test_remembered_tokens_still_expire(tmp_path: Path) -> None:
    jwks = dev_issuer.init(tmp_path)
    verifier = _verifier(jwks, leeway=0)
    token = _token(tmp_path, ttl=1)
    assert verifier.verify(token).subject == "c1"
    time.sleep(2.1)
    with pytest.raises(Unauthenticated, match="expired"):
        verifier.verify(token)
