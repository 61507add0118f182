"""The controller Deployment and the speaker DaemonSet.

Both run as the image's non-root user with a read-only root filesystem and every Linux
capability dropped. The speaker needs none either: ExaBGP only connects out to its peers
(port 179 on the router, an ephemeral port here; it does not listen unless configured to),
binding the node's own source address and TCP-MD5 (TCP_MD5SIG) need no privilege, and
host networking is a pod setting, not a capability. So NET_ADMIN / NET_RAW /
NET_BIND_SERVICE are not granted.
"""

from __future__ import annotations

from typing import Any

from metallb.component.labels import (
    CONFIGMAP_NAME,
    CONTROLLER,
    METRICS_PORT,
    METRICS_PORT_NAME,
    NAMESPACE,
    SPEAKER,
    labels,
    metadata,
    pod_selector,
)
from metallb.component.settings import ComponentSettings, Toleration

IMAGE_USER_ID = 10001  # the `metallb` user of the Dockerfile
COMMANDS = {CONTROLLER: "metallb-controller", SPEAKER: "metallb-speaker"}
SPEAKER_STATE_DIR = "/var/run/metallb-speaker"  # the speaker's --state-dir default parent


def _container_security() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }


def _pod_security() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": IMAGE_USER_ID,
        "runAsGroup": IMAGE_USER_ID,
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def _probe(path: str, period: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": METRICS_PORT_NAME},
        "initialDelaySeconds": 5,
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": 3,
    }


def _container(daemon: str, image: str, settings: ComponentSettings,
               extra_env: list[dict[str, Any]]) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": daemon,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": [COMMANDS[daemon]],
        "args": [
            f"--namespace={NAMESPACE}",
            f"--config={CONFIGMAP_NAME}",
            f"--port={METRICS_PORT}",
            f"--log-level={settings.log_level}",
        ],
        "ports": [{"name": METRICS_PORT_NAME, "containerPort": METRICS_PORT,
                   "protocol": "TCP"}],
        "livenessProbe": _probe("/healthz", 10),
        "readinessProbe": _probe("/readyz", 5),
        "resources": {"requests": {"cpu": "50m", "memory": "64Mi"},
                      "limits": {"memory": "256Mi"}},
        "securityContext": _container_security(),
    }
    if extra_env:
        container["env"] = extra_env
    return container


def _pod_spec(daemon: str, container: dict[str, Any],
              node_selectors: tuple[tuple[str, str], ...],
              tolerations: tuple[Toleration, ...]) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "serviceAccountName": daemon,
        "securityContext": _pod_security(),
        "nodeSelector": {"kubernetes.io/os": "linux", **dict(node_selectors)},
        "containers": [container],
    }
    if tolerations:
        spec["tolerations"] = [t.to_kubernetes() for t in tolerations]
    return spec


def controller_deployment(settings: ComponentSettings) -> dict[str, Any]:
    container = _container(CONTROLLER, settings.controller_image, settings, [])
    pod = _pod_spec(CONTROLLER, container, settings.controller_node_selectors,
                    settings.controller_tolerations)
    pod["terminationGracePeriodSeconds"] = 10
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(CONTROLLER, CONTROLLER),
        "spec": {
            "replicas": 1,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": pod_selector(CONTROLLER)},
            "template": {"metadata": {"labels": labels(CONTROLLER)}, "spec": pod},
        },
    }


def _field_env(name: str, field_path: str) -> dict[str, Any]:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": field_path}}}


def speaker_daemonset(settings: ComponentSettings) -> dict[str, Any]:
    env = [
        _field_env("METALLB_NODE_NAME", "spec.nodeName"),
        _field_env("METALLB_HOST", "status.hostIP"),
    ]
    container = _container(SPEAKER, settings.speaker_image, settings, env)
    # The root filesystem is read-only: ExaBGP's config, API socket and log go to the
    # speaker's state directory (its default, /var/run/metallb-speaker/NODE), scratch
    # files to /tmp; both are per-pod memory-backed volumes.
    container["volumeMounts"] = [
        {"name": "state", "mountPath": SPEAKER_STATE_DIR},
        {"name": "tmp", "mountPath": "/tmp"},
    ]
    pod = _pod_spec(SPEAKER, container, settings.speaker_node_selectors,
                    settings.speaker_tolerations)
    pod["hostNetwork"] = True
    pod["dnsPolicy"] = "ClusterFirstWithHostNet"
    # Time for the clean shutdown: withdraw every route and close sessions (rule D3).
    pod["terminationGracePeriodSeconds"] = 30
    pod["volumes"] = [
        {"name": "state", "emptyDir": {"medium": "Memory", "sizeLimit": "32Mi"}},
        {"name": "tmp", "emptyDir": {"medium": "Memory", "sizeLimit": "16Mi"}},
    ]
    return {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": metadata(SPEAKER, SPEAKER),
        "spec": {
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": pod_selector(SPEAKER)},
            "updateStrategy": {"type": "RollingUpdate",
                               "rollingUpdate": {"maxUnavailable": 1}},
            "template": {"metadata": {"labels": labels(SPEAKER)}, "spec": pod},
        },
    }
