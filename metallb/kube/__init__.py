"""The thin layer over the official `kubernetes` client that both daemons share: the
list+watch cache (Informer), the keyed work queue, Event recording, Lease leader
election, named checks of API errors, and the Clock every wait and expiry is measured
on. It owns how we talk to the API server; it decides nothing about MetalLB."""
