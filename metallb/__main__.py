import sys

from metallb.cli import main

sys.exit(main())
