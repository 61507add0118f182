"""What the informer caches keep of each object: only the fields the daemons read.

client-go's transform functions, in our words: a Service or EndpointSlice is trimmed as
it arrives (list page, watch event, our own write), so the cache never holds
managedFields, unrelated annotations, endpoint addresses or conditions nobody reads. At
10k Services with their EndpointSlices that is the difference between ~200 MiB and well
under 100 MiB per daemon.

Two ideas keep a trimmed object equivalent to the full one for every reader:
- a field is kept verbatim, or not at all: a reader sees the value the API sent;
- a section that is malformed (not an object or list where one belongs, an annotation
  that is not text) is kept whole, so a reader that reports it (`intent_from_service`
  quotes the value in its LoadBalancerFailed event) reports the same thing.
Repeated short strings (namespaces, protocols, families, node names) are interned: the
JSON decoder makes a new string object for each occurrence in each watch event. So are
names and selector values: a Service's name is also its EndpointSlices' service-name
label and the tail of the key every cache files it under (`metallb.keys`), and its
selector values name its pods, often alike. Small
parts that many objects hold alike (a Service's ports, families and MetalLB annotations,
a slice's endpoints) are shared: one dict or list for all equal ones. So cached objects
are read-only (no daemon writes to them; the controller patches the API instead).

Every other dict of a trimmed object is made compact (`_compact`): on CPython, a dict
made as an instance's `__dict__` keeps only its values and shares its key table with
every other dict of the same keys in the same order (PEP 412's split table), about half
the bytes of a plain small dict. Every trimmed Service has some seven such dicts: at
100k Services that is ~60 MiB per daemon. They are real dicts (`type(d) is dict`) with
the same keys, values and order, so no reader can tell; any write would only turn one
back into a plain dict.

The readers: `metallb.allocator.service.intent_from_service` and `creation_order` (both
daemons), `speaker.planner` (`_announceable`, `has_eligible_endpoint`,
`index_endpoints`), `metallb.kube.events.EventRecorder.record`, the informer itself
(`metallb.keys.object_key`, resourceVersion). A new reader of another field adds it here
(tests/pure/test_trim.py checks the readers' results on full and trimmed objects).

Trimmed objects are for reading: the controller writes Services with patches of the
fields it owns, never by sending a cached object back (a PUT of one would erase what
was trimmed).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

from metallb.allocator.service import ANNOTATION_PREFIXES
from metallb.status.conditions import ADDRESS_ASSIGNED

Transform = Callable[[dict[str, Any]], dict[str, Any]]

SERVICE_NAME_LABEL = "kubernetes.io/service-name"

_IDENTITY = ("apiVersion", "kind")
_SERVICE_META = ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
_SLICE_META = ("name", "namespace", "resourceVersion")
_SERVICE_SPEC = ("type", "loadBalancerClass", "loadBalancerIP", "externalTrafficPolicy",
                 "selector", "ipFamilies")
_PORT = ("protocol", "port")
_INGRESS = ("ip", "hostname")
_ENDPOINT = ("nodeName",)
_CONDITIONS = ("ready", "serving")
_CONDITION_TEXT = ("type", "status", "reason", "lastTransitionTime")  # repeat across Services
_INTERNED = frozenset(("apiVersion", "kind", "namespace", "type", "loadBalancerClass",
                       "externalTrafficPolicy", "protocol", "nodeName", "creationTimestamp"))

SHAPE_LIMIT = 512
"""Distinct key tuples `_compact` keeps a key table for; dicts of further shapes stay
plain (selectors bring keys of the user's choosing)."""
_shapes: dict[tuple, type] = {}

SHARED_LIMIT = 20000
"""Distinct shared parts remembered; beyond it new ones are kept unshared (so odd input
cannot grow the table without bound)."""
_shared: dict[tuple, Any] = {}


def _text(value: Any) -> Any:
    """A short string seen on many objects, shared; anything else as it is."""
    return sys.intern(value) if type(value) is str else value


def _pick(source: dict[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """The `keys` present in `source`, verbatim (interned where they repeat)."""
    return {key: _text(source[key]) if key in _INTERNED else source[key]
            for key in keys if key in source}


def _compact(items: dict[str, Any]) -> dict[str, Any]:
    """A dict equal to `items` (same order) whose key table is shared with every other of
    the same keys: the `__dict__` of an instance of a class made for those keys (see
    the module docstring). The instance goes away; the dict keeps its values."""
    keys = tuple(items)
    shape = _shapes.get(keys)
    if shape is None:
        if len(_shapes) >= SHAPE_LIMIT:
            return items
        shape = _shapes.setdefault(keys, type("TrimmedShape", (), {}))
    out = shape().__dict__
    for key, value in items.items():
        out[key] = value
    return out


def _each(items: Any, keys: Iterable[str]) -> Any:
    """A list of objects with only `keys` kept in each; anything malformed as it is."""
    if type(items) is not list:
        return items
    keys = tuple(keys)
    return [_compact(_pick(item, keys)) if type(item) is dict else item for item in items]


def _frozen(value: Any) -> tuple:
    """A hashable image of a JSON value that tells True from 1 and keeps key order."""
    kind = type(value)
    if kind is dict:
        return (dict, tuple((k, _frozen(v)) for k, v in value.items()))
    if kind is list:
        return (list, tuple(_frozen(v) for v in value))
    return (kind, value)


def _share(value: Any) -> Any:
    """The one object kept for every JSON value equal to `value` (in type and order)."""
    try:
        key = _frozen(value)
        found = _shared.get(key)
    except TypeError:  # not JSON: left alone
        return value
    if found is not None:
        return found
    if len(_shared) < SHARED_LIMIT:
        return _shared.setdefault(key, value)
    return value


def _well_formed_text_map(value: Any) -> bool:
    return type(value) is dict and all(
        type(k) is str and type(v) is str for k, v in value.items())


def _annotations(value: Any) -> Any:
    """The MetalLB annotations only; a malformed map whole (its error quotes it)."""
    if not _well_formed_text_map(value):
        return value
    return _share({key: text for key, text in value.items()
                   if key.startswith(ANNOTATION_PREFIXES)})


def _section(obj: dict[str, Any], name: str, trim: Callable[[dict[str, Any]], dict],
             out: dict[str, Any]) -> None:
    """out[name] = trim(obj[name]) when it is an object; kept as it is when malformed."""
    if name not in obj:
        return
    value = obj[name]
    out[name] = trim(value) if type(value) is dict else value


def trim_service(obj: dict[str, Any]) -> dict[str, Any]:
    """A Service with what the controller's intent, the speaker's plan and the Events
    read: identity and creation time, labels (serviceSelectors), MetalLB annotations,
    the spec fields of `intent_from_service`, status.loadBalancer.ingress[].ip /
    hostname, and our condition (the controller compares it before writing)."""
    return _trim_service(obj, _service_status)


def trim_service_for_speaker(obj: dict[str, Any]) -> dict[str, Any]:
    """`trim_service` without status.conditions: only the controller reads its
    condition; the speaker's plan, config guard and Events never do (~0.5 KiB less per
    Service)."""
    return _trim_service(obj, _load_balancer_status)


def _trim_service(obj: dict[str, Any], status: Callable[[dict[str, Any]], dict]
                  ) -> dict[str, Any]:
    if type(obj) is not dict:
        return obj
    out = _pick(obj, _IDENTITY)
    _section(obj, "metadata", _service_meta, out)
    _section(obj, "spec", _service_spec, out)
    _section(obj, "status", status, out)
    return _compact(out)


def _service_meta(meta: dict[str, Any]) -> dict[str, Any]:
    out = _pick(meta, _SERVICE_META)
    if "name" in out:  # also its slices' service-name label (a slice's own name is not)
        out["name"] = _text(out["name"])
    if "labels" in meta:  # serviceAllocation.serviceSelectors match them
        out["labels"] = _share(meta["labels"])
    if "annotations" in meta:
        annotations = _annotations(meta["annotations"])
        if annotations != {}:  # none left reads like none at all; garbage stays
            out["annotations"] = annotations
    return _compact(out)


def _service_spec(spec: dict[str, Any]) -> dict[str, Any]:
    out = _pick(spec, _SERVICE_SPEC)
    selector = out.get("selector")
    if _well_formed_text_map(selector):
        out["selector"] = _compact({key: sys.intern(value) for key, value in selector.items()})
    if "ports" in spec:
        out["ports"] = _share(_each(spec["ports"], _PORT))
    families = out.get("ipFamilies")
    if type(families) is list:
        out["ipFamilies"] = _share(families)
    if not families:  # the cluster IPs name the families only without ipFamilies
        for key in ("clusterIPs", "clusterIP"):
            if key in spec:
                out[key] = spec[key]
    return _compact(out)


def _load_balancer_status(status: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _section(status, "loadBalancer", _load_balancer, out)
    return _compact(out)


def _service_status(status: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _section(status, "loadBalancer", _load_balancer, out)
    if "conditions" in status:  # ours only: the controller compares it before writing
        conditions = status["conditions"]
        ours = [_condition(c) for c in conditions if type(c) is dict and c.get(
            "type") == ADDRESS_ASSIGNED] if type(conditions) is list else conditions
        if ours:  # none of ours reads like none at all
            out["conditions"] = ours
    return _compact(out)


def _condition(condition: dict[str, Any]) -> dict[str, Any]:
    """Our condition verbatim; its type, status, reason and time are shared text."""
    return _compact({key: _text(value) if key in _CONDITION_TEXT else value
                     for key, value in condition.items()})


def _load_balancer(lb: dict[str, Any]) -> dict[str, Any]:
    return _compact({"ingress": _each(lb["ingress"], _INGRESS)} if "ingress" in lb else {})


def trim_endpoint_slice(obj: dict[str, Any]) -> dict[str, Any]:
    """An EndpointSlice with what the speaker's plan reads: its Service (the
    service-name label), and per endpoint the node and the ready / serving conditions."""
    if type(obj) is not dict:
        return obj
    out = _pick(obj, _IDENTITY)
    _section(obj, "metadata", _slice_meta, out)
    if "endpoints" in obj:
        out["endpoints"] = _share(_endpoints(obj["endpoints"]))
    return _compact(out)


def _slice_meta(meta: dict[str, Any]) -> dict[str, Any]:
    out = _pick(meta, _SLICE_META)
    if "labels" in meta:
        labels = meta["labels"]
        out["labels"] = (_compact({SERVICE_NAME_LABEL: _text(labels[SERVICE_NAME_LABEL])})
                         if type(labels) is dict and SERVICE_NAME_LABEL in labels
                         else labels if type(labels) is not dict else {})
    return _compact(out)


def _endpoints(endpoints: Any) -> Any:
    if type(endpoints) is not list:
        return endpoints
    trimmed = []
    for endpoint in endpoints:
        if type(endpoint) is dict:
            out = _pick(endpoint, _ENDPOINT)
            _section(endpoint, "conditions", _conditions, out)
            endpoint = _compact(out)
        trimmed.append(endpoint)
    return trimmed


def _conditions(conditions: dict[str, Any]) -> dict[str, Any]:
    return _compact(_pick(conditions, _CONDITIONS))
