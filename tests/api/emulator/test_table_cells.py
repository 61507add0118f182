"""The cell formats of server-side tables, as kube-apiserver's printers write them: ages
(k8s.io/apimachinery duration.HumanDuration), selectors, and the JSONPath subset CRD
printer columns use."""

from __future__ import annotations

import pytest

from lab.apiserver.tables import human_duration, json_path, labels_text, selector_text


@pytest.mark.parametrize(("seconds", "shown"), [
    (-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (125, "2m5s"),
    (599, "9m59s"), (600, "10m"), (179 * 60 + 59, "179m"), (3 * 3600, "3h"),
    (3 * 3600 + 60, "3h1m"), (8 * 3600, "8h"), (47 * 3600, "47h"), (48 * 3600, "2d"),
    (49 * 3600, "2d1h"), (8 * 86400, "8d"), (729 * 86400, "729d"), (730 * 86400, "2y"),
    (731 * 86400, "2y1d"), (8 * 365 * 86400, "8y")])
def test_ages_read_as_kubectl_shows_them(seconds, shown):
    assert human_duration(seconds) == shown


def test_selectors_are_sorted_by_key_and_empty_ones_read_as_none():
    assert labels_text({"b": "2", "a": "1"}) == "a=1,b=2"
    assert labels_text({}) == "<none>"
    selector = {"matchLabels": {"tier": "web"}, "matchExpressions": [
        {"key": "env", "operator": "In", "values": ["prod", "dev"]},
        {"key": "zone", "operator": "DoesNotExist"}, {"key": "arch", "operator": "Exists"}]}
    assert selector_text(selector) == "arch,env in (dev,prod),tier=web,!zone"
    assert selector_text({}) == ""


OBJ = {"spec": {"size": 3, "ports": [{"port": 80}, {"port": 443}]},
       "status": {"conditions": [{"type": "Synced", "status": "False"},
                                 {"type": "Ready", "status": "True"}]}}


@pytest.mark.parametrize(("path", "value"), [
    (".spec.size", 3), (".spec.ports[1].port", 443), (".spec.ports[-1].port", 443),
    ('.status.conditions[?(@.type=="Ready")].status', "True"),
    (".status.conditions[?(@.type=='Synced')].status", "False"),
    (".spec.missing", None), (".spec.ports[5].port", None), ("{.spec.size}", 3)])
def test_printer_column_json_paths(path, value):
    assert json_path(OBJ, path) == value
