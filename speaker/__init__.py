"""The MetalLB speaker: on one node, announce the addresses of LoadBalancer Services
over BGP to the configured (or autodiscovered) peers.

    daemon.py       SpeakerDaemon: informers -> sync loop -> backend; metrics, events
    cli.py          `metallb-speaker` flags (defaults read from settings.py)
    settings.py     SpeakerSettings: every default and tunable, written once
    planner.py      pure: (config, node, services, slices) -> peers and routes per peer
    node.py         NodeInfo: the Node fields the planner and autodiscovery read
    autodiscovery.py  pure: peers a node describes in its annotations / labels
    objects.py      reading untrusted API dicts without raising
    bgp.py          the backend seam: RouteAttrs, PeerSpec, SessionState, DriverEvent,
                    the BGPBackend protocol
    backends.py     builds the backend from the settings (ExaBGP today)
    exabgp/         the ExaBGP backend and its launcher (see its package docstring)
"""
