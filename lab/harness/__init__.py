"""What tests and benches both drive: the BGP lab fixture (FRR and node namespaces), the
speaker cluster, the whole system stack with its fault scenarios and invariant checker,
the daemons as child processes, and reading their HTTP endpoints.

Not a part of the product (never imported by controller/, speaker/ or metallb/), and
never importing tests: a missing prerequisite raises `requires.Missing`, which the test
suite turns into a skip and a benchmark reports as an error.
"""
