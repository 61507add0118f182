"""BFD (RFC 5880 asynchronous mode over UDP, RFC 5881 single-hop, RFC 5883 multihop).

Pure core: `packet` (control packet codec) and `session` (the state machine, driven by
received packets and the time, returning packets to send and its next deadline). I/O:
`transport` (sockets), `engine` (the event loop of the BFD process, `python -m
speaker.bfd`), `client` (what the speaker uses to run and talk to that process).
"""
