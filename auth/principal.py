"""The caller a verified token stands for, and the ownership rules (pure decisions).

Two roles: an `operator` acts on any customer's resources; a `subscriber` is the customer whose
id is the token's `sub` and acts only on its own. A route asks `may_act_for` before it touches a
customer's data; asking for another customer's list is a 403, and a resource looked up by id that
belongs to someone else is answered as if it did not exist (404), so ids cannot be probed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

OPERATOR = "operator"
SUBSCRIBER = "subscriber"
ROLES = (OPERATOR, SUBSCRIBER)


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the token's subject and the roles we know it has."""

    subject: str
    roles: frozenset[str]
    client_id: str | None = None

    @property
    def is_operator(self) -> bool:
        return OPERATOR in self.roles

    @property
    def customer(self) -> str | None:
        """The customer a subscriber is (its `sub`); None for an operator-only caller."""
        return self.subject if SUBSCRIBER in self.roles else None

    def may_act_for(self, customer: str) -> bool:
        """Operators act for anyone; a subscriber only for itself."""
        return self.is_operator or self.customer == customer


# The caller of a server started with `--no-auth` (loopback only) or of the in-process client.
LOCAL_OPERATOR = Principal(subject="local-operator", roles=frozenset({OPERATOR}))


def roles_from_claims(claims: Mapping[str, Any]) -> frozenset[str]:
    """Our roles named in a token: a `roles` list, Keycloak's `realm_access.roles`, or the
    space-separated `scope` (either `operator` or `vod:operator`). Unknown names are ignored."""
    names: list[str] = []
    names += _strings(claims.get("roles"))
    realm = claims.get("realm_access")
    if isinstance(realm, Mapping):
        names += _strings(realm.get("roles"))
    scope = claims.get("scope")
    if isinstance(scope, str):
        names += scope.split()
    plain = {n.removeprefix("vod:") for n in names}
    return frozenset(r for r in ROLES if r in plain)


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        return [v for v in value if isinstance(v, str)]
    return []
