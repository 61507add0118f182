"""Kinds and labels of the status objects each node's speaker writes (ServiceBGPStatus as
upstream, our BGPSessionState): shared by the speaker that writes them, the controller
that removes a gone node's, and `metallb status` that reads them."""

from __future__ import annotations

NODE_LABEL = "metallb.io/node"
SERVICE_NAME_LABEL = "metallb.io/service-name"
SERVICE_NAMESPACE_LABEL = "metallb.io/service-namespace"
PEER_LABEL = "metallb.io/peer"
SERVICE_BGP = ("ServiceBGPStatus", "servicebgpstatuses")  # (kind, plural)
SESSIONS = ("BGPSessionState", "bgpsessionstates")
