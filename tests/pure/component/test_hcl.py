"""Reading *.lokocfg: files, directories, variables, vars files, and the errors."""

from __future__ import annotations

import pytest

from metallb.component.hcl import load_component
from metallb.config.errors import ConfigError
from tests.support.component import block, write


def _error(path, **kwargs) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_component(path, **kwargs)
    return info.value


def test_plain_values_are_unquoted(tmp_path):
    path = write(tmp_path, block('log_level = "debug"', "service_monitor = true"))
    body = load_component(path).body
    assert body["address_pools"] == {"pool1": ["198.51.100.20/32"]}
    assert body["log_level"] == "debug"
    assert body["service_monitor"] is True


def test_quoted_map_keys_and_escapes(tmp_path):
    path = write(tmp_path, block(
        'speaker_node_selectors = { "node-role.kubernetes.io/node" = "", plain = "a\\"b\\\\c" }'))
    selectors = load_component(path).body["speaker_node_selectors"]
    assert selectors == {"node-role.kubernetes.io/node": "", "plain": 'a"b\\c'}


def test_variable_default_and_vars_file_beside_the_config(tmp_path):
    text = (
        'variable "monitor" { default = false }\n'
        'variable "pools" {}\n'
        'component "metallb" {\n  address_pools = var.pools\n  service_monitor = var.monitor\n}\n'
    )
    path = write(tmp_path, text)
    write(tmp_path, 'pools = { p = ["198.51.100.0/30"] }\n', "lokocfg.vars")
    body = load_component(path).body
    assert body == {"address_pools": {"p": ["198.51.100.0/30"]}, "service_monitor": False}

    write(tmp_path, 'pools = { p = ["198.51.100.0/30"] }\nmonitor = true\n', "lokocfg.vars")
    assert load_component(path).body["service_monitor"] is True


def test_explicit_vars_file_and_string_interpolation(tmp_path):
    text = ('variable "tag" {}\n'
            + block('controller_image = "example.test/metallb:${var.tag}"'))
    path = write(tmp_path, text)
    vars_file = write(tmp_path, 'tag = "1.2.3"\n', "other.vars")
    body = load_component(path, vars_path=vars_file).body
    assert body["controller_image"] == "example.test/metallb:1.2.3"


def test_directory_of_lokocfg_files(tmp_path):
    write(tmp_path, 'variable "monitor" { default = true }\n', "a-variables.lokocfg")
    write(tmp_path, 'cluster "packet" { name = "x" }\n', "b-cluster.lokocfg")
    write(tmp_path, block("service_monitor = var.monitor"), "c-metallb.lokocfg")
    write(tmp_path, "this is not HCL {", "notes.txt")  # not a *.lokocfg: ignored
    loaded = load_component(tmp_path)
    assert loaded.body["service_monitor"] is True
    assert loaded.source.endswith("c-metallb.lokocfg")


def test_other_components_are_ignored(tmp_path):
    text = 'component "contour" { enable_monitoring = true }\n' + block()
    assert set(load_component(write(tmp_path, text)).body) == {"address_pools"}


@pytest.mark.parametrize(
    ("text", "vars_text", "expected"),
    [
        (block("service_monitor = var.nope"), None,
         'service_monitor: refers to undeclared variable "nope"'),
        ('variable "m" {}\n' + block("service_monitor = var.m"), None,
         'service_monitor: variable "m" has no value'),
        (block('log_level = upper("info")'), None,
         "log_level: unsupported expression"),
        (block('log_level = "%{ if true }x%{ endif }"'), None,
         "log_level: template directives"),
        ('component "metallb" {\n  address_pools = {\n', None, "HCL syntax error at line"),
        ('component "other" {}\n', None, 'no component "metallb" block found'),
        (block() + block(), None, 'component "metallb": defined 2 times'),
        ('variable "a" {}\nvariable "a" {}\n' + block(), None, 'variable "a": declared twice'),
        (block(), "x = var.y\n", "x: refers to undeclared variable"),
    ],
)
def test_errors_name_the_place(tmp_path, text, vars_text, expected):
    path = write(tmp_path, text)
    if vars_text is not None:
        write(tmp_path, vars_text, "lokocfg.vars")
    error = _error(path)
    assert expected in str(error)
    assert error.source and str(tmp_path) in error.source


def test_missing_paths(tmp_path):
    assert "no such file or directory" in str(_error(tmp_path / "absent.lokocfg"))
    assert "no *.lokocfg files" in str(_error(tmp_path))
    path = write(tmp_path, block())
    assert "vars file not found" in str(_error(path, vars_path=tmp_path / "absent.vars"))
