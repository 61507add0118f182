"""Address allocation for LoadBalancer Services, without I/O: interval arithmetic
(`intervals`), the allocation rules (`allocator`), one Service read from its JSON
(`service`), the per-service Decision (`decision`), and the controller's core (`core`:
config, pending services, their one order and retries) that the controller daemon and
`metallb plan` (`dry_run`) both drive."""
