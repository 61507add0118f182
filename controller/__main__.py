"""`python -m controller`: the MetalLB controller daemon."""

from controller.daemon import main
from metallb.daemon_cli import exit_now

exit_now(main())
