"""`python -m speaker`: the MetalLB speaker daemon."""

from metallb.daemon_cli import exit_now
from speaker.daemon import main

exit_now(main())
