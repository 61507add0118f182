"""`python -m speaker.exabgp.launcher <exabgp arguments>`: ExaBGP with the fixes."""

from __future__ import annotations

import sys

from .install import apply_fixes


def main() -> None:
    apply_fixes()
    from exabgp.application.main import main as exabgp_main

    sys.argv[0] = "exabgp"
    exabgp_main()


if __name__ == "__main__":
    main()
