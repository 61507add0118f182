"""A pure-Python MetalLB (BGP mode): shared library of the controller and the speaker."""

__version__ = "0.1.0"
