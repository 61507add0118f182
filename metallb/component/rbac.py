"""ServiceAccounts, Roles and bindings: exactly the API calls the daemons make.

Cluster-wide rules go to a ClusterRole (services and events live in every namespace,
nodes and namespaces are cluster-scoped); rules on the component's own ConfigMap, Lease,
metallb.io config objects and (speaker only) the BGP password Secrets go to a Role in
metallb-system. The tables below are the single source: the README's RBAC table and
the tests read them too.
"""

from __future__ import annotations

from metallb.component.labels import CONTROLLER, NAMESPACE, SPEAKER, metadata

# The metallb.io kinds both daemons read their config from (either may be the source).
CONFIG_RESOURCES = ("ipaddresspools", "bgppeers", "bgpadvertisements", "communities",
                    "bfdprofiles", "l2advertisements")
READ = ("get", "list", "watch")

# (apiGroups, resources, verbs) per daemon and scope.
CLUSTER_RULES: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...]] = {
    CONTROLLER: (
        (("",), ("services",), ("get", "list", "watch", "update", "patch")),
        (("",), ("services/status",), ("patch",)),
        (("",), ("events",), ("create", "patch")),
        # Namespace labels, for IPAddressPool serviceAllocation.namespaceSelectors.
        (("",), ("namespaces",), READ),
        # Removed nodes, whose speakers' status objects it deletes (controller.node_status).
        (("",), ("nodes",), READ),
    ),
    SPEAKER: (
        (("",), ("services", "nodes"), ("get", "list", "watch")),
        (("discovery.k8s.io",), ("endpointslices",), ("get", "list", "watch")),
        (("",), ("events",), ("create", "patch")),
    ),
}
NAMESPACE_RULES: dict[str, tuple[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]], ...]] = {
    CONTROLLER: (
        (("",), ("configmaps",), ("get", "list", "watch")),
        (("coordination.k8s.io",), ("leases",), ("get", "create", "update")),
        (("metallb.io",), CONFIG_RESOURCES, READ),
        # Status objects (metallb.controller.status): its ConfigurationState, pool counts.
        (("metallb.io",), ("configurationstates",), ("create", "list", "delete")),
        (("metallb.io",), ("servicebgpstatuses", "bgpsessionstates"), ("list", "delete")),
        (("metallb.io",), ("configurationstates/status", "ipaddresspools/status"), ("patch",)),
    ),
    SPEAKER: (
        (("",), ("configmaps",), ("get", "list", "watch")),
        (("metallb.io",), CONFIG_RESOURCES, READ),
        # BGPPeer.spec.passwordSecret: basic-auth Secrets in this namespace only.
        (("",), ("secrets",), READ),
        # Status objects (speaker.status): its ConfigurationState; per Service and per
        # peer objects of its node, listed at start to remove what a predecessor left.
        (("metallb.io",), ("configurationstates",), ("create",)),
        (("metallb.io",), ("servicebgpstatuses", "bgpsessionstates"),
         ("list", "create", "delete")),
        (("metallb.io",), ("configurationstates/status", "servicebgpstatuses/status",
                           "bgpsessionstates/status"), ("patch",)),
    ),
}


def cluster_role_name(daemon: str) -> str:
    return f"metallb-system:{daemon}"


def _rules(table) -> list[dict]:
    return [
        {"apiGroups": list(groups), "resources": list(resources), "verbs": list(verbs)}
        for groups, resources, verbs in table
    ]


def rbac_objects() -> list[dict]:
    """ServiceAccount, ClusterRole(+Binding), Role(+Binding) for controller and speaker."""
    objects: list[dict] = []
    for daemon in (CONTROLLER, SPEAKER):
        subject = [{"kind": "ServiceAccount", "name": daemon, "namespace": NAMESPACE}]
        objects.append({
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(daemon, daemon),
        })
        objects.append({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": metadata(cluster_role_name(daemon), daemon, namespaced=False),
            "rules": _rules(CLUSTER_RULES[daemon]),
        })
        objects.append({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": metadata(cluster_role_name(daemon), daemon, namespaced=False),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                        "name": cluster_role_name(daemon)},
            "subjects": subject,
        })
        objects.append({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": metadata(daemon, daemon),
            "rules": _rules(NAMESPACE_RULES[daemon]),
        })
        objects.append({
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": metadata(daemon, daemon),
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                        "name": daemon},
            "subjects": subject,
        })
    return objects
