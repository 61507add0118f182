"""The controller daemon: its flags and settings (`cli`), the wiring of informers, work
queue, worker, leader election and metrics (`daemon`), and the I/O side of a decision
(`reconciler`: status writes, annotations, Events). It decides nothing itself: every
decision comes from `metallb.allocator.core`."""
