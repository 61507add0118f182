"""Every fix the launcher installs, in one list (imported only once the version matched:
the modules import the ExaBGP internals they replace)."""

from __future__ import annotations

from . import (
    batched_attributes,
    driver_options,
    grouped_updates,
    lean_remove_self,
    no_sleep_while_busy,
    routes_per_turn,
)
from .guard import Fix

FIXES: tuple[Fix, ...] = (
    lean_remove_self.FIX,
    grouped_updates.FIX,
    no_sleep_while_busy.FIX,
    routes_per_turn.FIX,
    *batched_attributes.FIXES,
    driver_options.FIX,
)
