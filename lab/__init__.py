"""The lab: everything that runs this project on one machine without a cluster, and is
never shipped in the image.

It is a user of the product, not a part of it: it imports `metallb`, `controller` and
`speaker`, never the other way round (tests/pure/test_import_direction.py).

    apiserver/    the Kubernetes API emulator (the only stand-in: no kube-apiserver runs here)
    netns.py      network namespaces: a router namespace and node namespaces on one bridge
    frr.py        FRR (bgpd + zebra) in a namespace, without systemd
    cluster.py    `metallb lab up/status/down`: topology, router, emulator, the component,
                  the daemons, optionally Prometheus; state.py records it for `down`
    demo.py       `metallb lab demo`
    harness/      what tests and benchmarks both drive (BGP lab fixture, speaker cluster,
                  system stack, fault scenarios, invariants, daemon processes)
"""
