"""The ExaBGP backend: everything the speaker needs to run BGP through an ExaBGP child.

It owns the ExaBGP process and what is said to it, nothing above: the daemon speaks to
it only as a `speaker.bgp.BGPBackend`. How the parts talk: ExaBGP only exchanges API
lines with processes it starts itself, so its configured `process` is the relay, which
connects back to a Unix socket the channel serves (a filesystem path: it works across
network namespaces) and copies lines both ways.

    driver.py      ExaBGPDriver: composes the parts below behind the backend API
    routebook.py   pure: desired / held routes per peer + events -> API commands
    sessions.py    pure: the session table (fresh per changed peer, stuck-session check)
    channel.py     the API socket: writer and reader threads, ack counting
    supervisor.py  the ExaBGP process: start (in a netns), restart with backoff, stop
    config.py      pure: ExaBGP configuration text, environment, command lines
    events.py      pure: parse ExaBGP's JSON API lines (acks, session state)
    relay.py       the `process` ExaBGP runs: socket <-> stdin/stdout, no imports
    launcher/      `python -m speaker.exabgp.launcher`: ExaBGP with the fixes that remove
                   per-route costs, one module each, only on the verified release
This file imports nothing: the launcher runs inside ExaBGP's own process and must not
load the driver (threads, the project's libraries) on its way in.
"""
