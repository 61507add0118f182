"""The Lokomotive-style component: a `component "metallb" {...}` HCL block in, the whole
deployment out, and apply / prune / delete against a cluster.

    hcl.py        read *.lokocfg files and variables -> the block's attributes
    settings.py   the attributes -> frozen ComponentSettings (every default once, errors
                  with the attribute's path)
    render.py     settings -> the manifests (workloads.py, rbac.py, monitoring.py, labels.py)
    cluster.py    server-side apply, prune and delete over the official client's HTTP layer
"""
