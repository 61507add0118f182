"""The rendered manifests are valid: built-in kinds for every supported Kubernetes version
(kubernetes-validate, strict), custom kinds against their CRD schemas (jsonschema)."""

from __future__ import annotations

import copy

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate.utils import all_versions

from tests.support.component import DATA, SEED_BLOCK, block, find, objects_of

OLDEST_SUPPORTED = (1, 25)
VERSIONS = [v for v in all_versions()
            if tuple(int(x) for x in v.split(".")[:2]) >= OLDEST_SUPPORTED]
CRD_SCHEMAS = {"ServiceMonitor": "servicemonitor.schema.yaml",
               "PrometheusRule": "prometheusrule.schema.yaml"}

VARIANTS = {
    "seed": SEED_BLOCK,
    "minimal": block(),
    "everything": block(
        'controller_toleration {\n key = "k"\n operator = "Exists"\n effect = "NoExecute"\n'
        ' toleration_seconds = 30\n }',
        'speaker_toleration {\n operator = "Exists"\n }',
        'controller_image = "r.test/c@sha256:' + "a" * 64 + '"', 'log_level = "debug"',
        "packet_peer_autodiscovery = false",
        'peer {\n peer_address = "192.0.2.1"\n peer_asn = 64512\n my_asn = 64512\n }',
        "service_monitor = true"),
}


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0]


def test_supported_versions_cover_1_25_to_latest():
    assert VERSIONS[0].startswith("1.25.")
    assert VERSIONS[-1] == kubernetes_validate.latest_version()


# "minimal" renders a subset of "everything": checking it on the newest version suffices.
@pytest.mark.parametrize(("variant", "versions"), [
    ("seed", VERSIONS), ("everything", VERSIONS), ("minimal", VERSIONS[-1:])])
def test_builtin_kinds_validate_strictly(tmp_path, variant, versions):
    objects = [o for o in objects_of(tmp_path, VARIANTS[variant])
               if o["kind"] not in CRD_SCHEMAS and not _is_metallb_io(o)]
    failures = []
    for version in versions:
        for obj in objects:
            try:
                kubernetes_validate.validate(copy.deepcopy(obj), version, strict=True)
            except kubernetes_validate.ValidationError as err:
                failures.append(f"{version} {obj['kind']}/{obj['metadata']['name']}: "
                                f"{_first_line(err)}")
    assert not failures, "\n".join(failures)


def test_strict_validation_catches_a_misspelt_field(tmp_path):
    deployment = find(objects_of(tmp_path, block()), "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePulPolicy"] = "Always"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, VERSIONS[-1], strict=True)


def _is_metallb_io(obj: dict) -> bool:
    return obj["apiVersion"].startswith("metallb.io/")


def _metallb_io_schema(objects: list[dict], obj: dict) -> dict:
    """The openAPIV3Schema the rendered CRD gives the object's kind and version."""
    version = obj["apiVersion"].split("/")[1]
    (crd,) = [o for o in objects if o["kind"] == "CustomResourceDefinition"
              and o["spec"]["names"]["kind"] == obj["kind"]]
    (served,) = [v for v in crd["spec"]["versions"] if v["name"] == version]
    assert served["served"] is True
    return served["schema"]["openAPIV3Schema"]


def test_config_objects_match_the_rendered_crd_schemas(tmp_path):
    objects = objects_of(tmp_path, VARIANTS["everything"])
    config = [o for o in objects if _is_metallb_io(o)]
    assert {o["kind"] for o in config} == {"IPAddressPool", "BGPPeer", "BGPAdvertisement"}
    for obj in config:
        jsonschema.validate(obj, _metallb_io_schema(objects, obj))


def test_crd_schemas_reject_what_the_api_server_would_reject(tmp_path):
    objects = objects_of(tmp_path, VARIANTS["everything"])
    peer = copy.deepcopy(find(objects, "BGPPeer"))
    peer["spec"]["peerPort"] = 70000
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(peer, _metallb_io_schema(objects, peer))
    peer["spec"]["peerPort"] = 179
    peer["spec"]["dynamicASN"] = "sideways"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(peer, _metallb_io_schema(objects, peer))


def _schema(kind: str) -> dict:
    return yaml.safe_load((DATA / CRD_SCHEMAS[kind]).read_text())


@pytest.mark.parametrize("kind", sorted(CRD_SCHEMAS))
def test_custom_kinds_match_their_crd_schema(tmp_path, kind):
    obj = find(objects_of(tmp_path, SEED_BLOCK), kind)
    jsonschema.validate(obj, _schema(kind))


def test_crd_schemas_reject_what_the_operator_would_reject(tmp_path):
    objects = objects_of(tmp_path, SEED_BLOCK)
    rule = copy.deepcopy(find(objects, "PrometheusRule"))
    rule["spec"]["groups"][0]["rules"][0]["for"] = "two minutes"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(rule, _schema("PrometheusRule"))
    monitor = copy.deepcopy(find(objects, "ServiceMonitor"))
    del monitor["spec"]["selector"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(monitor, _schema("ServiceMonitor"))
