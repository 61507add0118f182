"""`python -m speaker`: the MetalLB speaker daemon."""

import sys

from speaker.daemon import main

sys.exit(main())
