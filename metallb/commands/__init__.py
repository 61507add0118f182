"""Subcommands of the `metallb` command, one module per group (see metallb.cli)."""
