"""Text in either config format -> Config: the metallb.io objects (multi-document YAML,
`kind: List`, several files) or the legacy config (bare or as a ConfigMap). No I/O: the
commands read the files and hand in (name, text) pairs.

A stream holding any metallb.io object is read as custom resources; otherwise it must
be one legacy config.
"""

from __future__ import annotations

from metallb.config.crds import flatten, is_config_object, parse_crds
from metallb.config.errors import ConfigError, ConfigIssue
from metallb.config.model import Config
from metallb.config.parse import parse_config_text
from metallb.config.yaml_text import load_yaml_documents


def is_crd_text(documents: list[object]) -> bool:
    return any(is_config_object(d) for d in documents)


def parse_config_texts(texts: list[tuple[str, str]], source: str,
                       namespace: str | None = None) -> Config:
    """`texts` are (name, text) in reading order; `source` names the whole input in
    errors. ConfigSyntaxError when a text is not YAML, ConfigError when invalid."""
    loaded = [(name, load_yaml_documents(text, name)) for name, text in texts]
    if any(is_crd_text(documents) for _name, documents in loaded):
        several = len(loaded) > 1
        objects = [item for name, documents in loaded
                   for item in flatten(documents, name if several else "")]
        return parse_crds(objects, namespace, source)
    if len(texts) == 1:
        return parse_config_text(texts[0][1], source)
    raise ConfigError([ConfigIssue("", "holds no metallb.io objects; a directory is read "
                                   "as custom resources (give a legacy config as one file)")],
                      source)
