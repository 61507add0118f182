"""Address allocation for LoadBalancer Services: interval arithmetic, the allocator, and
the pure per-service reconcile decision. No I/O."""
