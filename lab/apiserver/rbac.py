"""Who is asking (bearer token -> identity) and, when enforcement is on, whether the
Roles / ClusterRoles bound to them allow the request — the real RBAC rules, so the
manifests we ship can be tested for least privilege.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass
from typing import Any

RBAC_GROUP = "rbac.authorization.k8s.io"


@dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ()

    @property
    def is_admin(self) -> bool:
        return "system:masters" in self.groups

    @classmethod
    def named(cls, user: str, groups: tuple[str, ...] = ()) -> Identity:
        """An identity by user name, with the groups the real server adds to it."""
        parts = user.split(":")
        if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
            sa = cls.service_account(parts[2], parts[3])
            return cls(sa.user, tuple(dict.fromkeys((*sa.groups, *groups))))
        return cls(user, tuple(dict.fromkeys((*groups, "system:authenticated"))))

    @classmethod
    def service_account(cls, namespace: str, name: str) -> Identity:
        return cls(f"system:serviceaccount:{namespace}:{name}",
                   ("system:serviceaccounts", f"system:serviceaccounts:{namespace}",
                    "system:authenticated"))


ADMIN = Identity("admin", ("system:masters", "system:authenticated"))


@dataclass(frozen=True)
class Request:
    verb: str
    group: str
    resource: str
    subresource: str
    namespace: str
    name: str


def _subject_matches(subject: dict[str, Any], identity: Identity, binding_ns: str) -> bool:
    kind = subject.get("kind")
    if kind == "ServiceAccount":
        ns = subject.get("namespace") or binding_ns
        return identity.user == f"system:serviceaccount:{ns}:{subject.get('name')}"
    if kind == "User":
        return identity.user == subject.get("name")
    if kind == "Group":
        return subject.get("name") in identity.groups
    return False


def _rule_allows(rule: dict[str, Any], req: Request) -> bool:
    def has(values: Any, wanted: str) -> bool:
        values = values or []
        return "*" in values or wanted in values

    resource = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
    if not has(rule.get("verbs"), req.verb) or not has(rule.get("apiGroups"), req.group):
        return False
    resources = rule.get("resources") or []
    if not (resource in resources or "*" in resources
            or (req.subresource and f"*/{req.subresource}" in resources)):
        return False
    names = rule.get("resourceNames") or []
    return not names or req.name in names


def rules_for(identity: Identity, namespace: str, objects: Any) -> list[dict[str, Any]]:
    """Every rule that applies to `identity` in `namespace`; `objects(plural)` lists the
    stored RBAC objects of that plural."""
    rules: list[dict[str, Any]] = []
    roles = {(r["metadata"].get("namespace", ""), r["metadata"]["name"]): r
             for r in objects("roles")}
    cluster_roles = {r["metadata"]["name"]: r for r in objects("clusterroles")}

    def role_rules(ref: dict[str, Any], binding_ns: str) -> list[dict[str, Any]]:
        if ref.get("kind") == "ClusterRole":
            role = cluster_roles.get(ref.get("name"))
        else:
            role = roles.get((binding_ns, ref.get("name")))
        return list((role or {}).get("rules") or [])

    for binding in objects("clusterrolebindings"):
        if any(_subject_matches(s, identity, "") for s in binding.get("subjects") or []):
            rules += role_rules(binding.get("roleRef") or {}, "")
    if namespace:
        for binding in objects("rolebindings"):
            ns = binding["metadata"].get("namespace", "")
            if ns == namespace and any(_subject_matches(s, identity, ns)
                                       for s in binding.get("subjects") or []):
                rules += role_rules(binding.get("roleRef") or {}, ns)
    return rules


def allowed(identity: Identity, req: Request, objects: Any) -> bool:
    if identity.is_admin:
        return True
    return any(_rule_allows(rule, req) for rule in rules_for(identity, req.namespace, objects))


def forbidden_message(identity: Identity, req: Request) -> str:
    resource = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
    what = f'{req.resource} "{req.name}"' if req.name else req.resource
    where = f' in the namespace "{req.namespace}"' if req.namespace else " at the cluster scope"
    return (f'{what} is forbidden: User "{identity.user}" cannot {req.verb} resource '
            f'"{resource}" in API group "{req.group}"{where}')


@dataclass(frozen=True)
class Denial:
    """One request RBAC refused: who, what, where, and the message the client got."""

    user: str
    verb: str
    group: str
    resource: str  # "services" or "services/status"
    namespace: str
    name: str
    message: str

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


class DenialLog:
    """Every request RBAC refused, in the order refused: how tests prove a daemon stayed
    within its rendered RBAC (rather than searching its log for "403").

    `record` is called from the request threads, the readers from any thread; the lock
    guards the list. Nothing here blocks beyond the lock.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._denials: list[Denial] = []

    def record(self, identity: Identity, req: Request) -> str:
        """Remember the refusal; returns the Forbidden message for the response."""
        message = forbidden_message(identity, req)
        resource = f"{req.resource}/{req.subresource}" if req.subresource else req.resource
        with self._lock:
            self._denials.append(Denial(identity.user, req.verb, req.group, resource,
                                        req.namespace, req.name, message))
        return message

    def all(self, user: str | None = None) -> list[Denial]:
        """Every denial so far (only `user`'s, when given)."""
        with self._lock:
            return [d for d in self._denials if user is None or d.user == user]

    def clear(self) -> None:
        with self._lock:
            self._denials.clear()


def review(body: dict[str, Any], identity: Identity, objects: Any) -> dict[str, Any]:
    """Answer a (Self)SubjectAccessReview: the request as given, plus status.allowed."""
    spec = body.get("spec") or {}
    if body.get("kind") == "SubjectAccessReview":
        identity = Identity.named(spec.get("user", ""), tuple(spec.get("groups") or ()))
    attrs = spec.get("resourceAttributes")
    if attrs is None:
        ok, reason = True, "non-resource URLs are open to authenticated users"
    else:
        req = Request(attrs.get("verb", ""), attrs.get("group", ""), attrs.get("resource", ""),
                      attrs.get("subresource", ""), attrs.get("namespace", ""),
                      attrs.get("name", ""))
        ok = allowed(identity, req, objects)
        reason = "RBAC: allowed" if ok else ""  # the real RBAC authorizer gives no reason
    out = dict(body)
    out.setdefault("metadata", {})
    out["status"] = {"allowed": ok, "reason": reason}
    if not ok:
        out["status"]["denied"] = False  # no opinion: RBAC only ever allows
    return out
