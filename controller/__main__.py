"""`python -m controller`: the MetalLB controller daemon."""

import sys

from controller.daemon import main

sys.exit(main())
