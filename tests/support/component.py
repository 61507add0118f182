"""Shared bits of the component tests: the seed's example block and a config writer."""

from __future__ import annotations

from pathlib import Path

from metallb.component.render import load_settings, render_objects
from metallb.component.settings import ComponentSettings

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "pure" / "component" / "data"

# The example of the Lokomotive reference (seed), with documentation address ranges.
SEED_BLOCK = """
component "metallb" {
  address_pools = {
    pool1 = ["198.51.100.20/32"]
    pool2 = ["203.0.113.16/29", "203.0.113.24/29"]
  }
  controller_node_selectors = {
    "kubernetes.io/hostname" = "worker3"
  }
  speaker_node_selectors = {
    "ingress_node" = "true"
    "node-role.kubernetes.io/node" = ""
  }
  speaker_toleration {
    key = "speaker_key1"
    operator = "Equal"
    value = "value1"
  }
  controller_toleration {
    key = "controller_key1"
    operator = "Equal"
    value = "value1"
  }
  # If true, then Prometheus Operator component should be installed.
  service_monitor = true
}
"""

POOLS = """  address_pools = {
    pool1 = ["198.51.100.20/32"]
  }
"""


def block(*lines: str, pools: bool = True) -> str:
    """A component block with the given attribute lines (and a valid pool unless told)."""
    body = (POOLS if pools else "") + "".join(f"  {line}\n" for line in lines)
    return 'component "metallb" {\n' + body + "}\n"


def write(tmp_path: Path, text: str, name: str = "metallb.lokocfg") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def settings_of(tmp_path: Path, text: str) -> ComponentSettings:
    return load_settings(write(tmp_path, text))


def objects_of(tmp_path: Path, text: str) -> list[dict]:
    return render_objects(settings_of(tmp_path, text))


def find(objects: list[dict], kind: str, name: str | None = None) -> dict:
    matches = [o for o in objects if o["kind"] == kind
               and (name is None or o["metadata"]["name"] == name)]
    assert len(matches) == 1, f"expected one {kind} {name or ''}, got {len(matches)}"
    return matches[0]
