"""BFD (RFC 5880 asynchronous mode over UDP, RFC 5881 single-hop, RFC 5883 multihop).

Pure core: `packet` (control packet codec) and `session` (the state machine, driven by
received packets and the time, returning packets to send and its next deadline). I/O:
`transport` (sockets), `engine` (the event loop of the BFD process, `python -m
speaker.bfd`), `client` (what the speaker uses to run and talk to that process).
Not implemented: echo mode (the config parser refuses it), demand mode (a peer's D bit
is ignored: we keep sending, which costs the peer nothing), authentication (packets
with the A bit are dropped).

Wiring into the speaker (done in speaker/bfd_wiring.py, which the daemon calls):
- Sessions: for every configured peer with `bfd_profile`,
  `spec_for_peer(peer, config.bfd_profile(peer.bfd_profile))`; hand the whole list to
  `BfdClient.set_sessions` on every config change (it adds, removes with AdminDown and
  retimes by itself). Start the client with `netns=` where ExaBGP runs.
- Events: `on_event` runs on the client's reader thread and must not block. On a
  `session` event with state "down" (or "admin_down") whose `old` was "up", the speaker
  sends ExaBGP `neighbor <peer> teardown` at once (from its own thread); ExaBGP then
  re-establishes the BGP session by itself and the speaker re-announces on its `up`
  event as today. Log every session event (`bfd_session_state peer= state= diag=`).
- Supervision: an `exited` event means the process died; start it again and call
  `set_sessions` again (sessions come back up within one slow interval, ~1 s).
- Metrics: `BFDMetrics(registry).publish(counters_from_stats(client.stats()))`, e.g.
  once a scrape interval from the speaker's own thread.
- Stop: `client.stop()` sends AdminDown to every router (the router takes it as an
  administrative down, not a failure) before ExaBGP withdraws.
"""
