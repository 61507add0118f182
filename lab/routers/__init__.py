"""Upstream routers of the lab (FRR, BIRD 2, GoBGP) behind one small interface."""
