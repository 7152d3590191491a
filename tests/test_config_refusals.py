"""Configurations a hostile tester wrote: each refused in one line naming the key."""

from __future__ import annotations

import dataclasses
import json
import typing

import pytest

from firmware import cli, config, credentials


def _float_keys(cls: type, path: str = "") -> list[str]:
    """Every float key of every section, from the dataclasses the loader reads."""
    keys = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        tp = hints[f.name]
        where = f"{path}.{f.name}" if path else f.name
        if dataclasses.is_dataclass(tp):
            keys += _float_keys(tp, where)
        elif tp is float or float in typing.get_args(tp):
            keys.append(where)
    return keys


FLOAT_KEYS = _float_keys(config.Config)


def _toml_with(key: str, value: str) -> str:
    table, _, name = key.rpartition(".")
    return f"[{table}]\n{name} = {value}\n"


def test_there_are_float_keys_in_many_sections():
    assert len(FLOAT_KEYS) > 15
    assert len({k.split(".")[0] for k in FLOAT_KEYS}) >= 6


@pytest.mark.parametrize("key", FLOAT_KEYS)
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1" + "0" * 400])
def test_a_float_key_that_is_not_a_finite_number_is_refused(key, value):
    with pytest.raises(config.ConfigError) as refused:
        config.parse(_toml_with(key, value))
    message = str(refused.value)
    assert message.startswith(key + ":") and len(message.splitlines()) == 1


@pytest.mark.parametrize("text", ["a = " + "[" * 5000 + "]" * 5000,
                                  "a = " + "{b = " * 5000 + "1" + "}" * 5000])
def test_a_configuration_nested_thousands_deep_is_one_line(text):
    with pytest.raises(config.ConfigError, match="nested too deeply"):
        config.parse(text)


@pytest.mark.parametrize(
    "brokers, key",
    [("[]", "mqtt.brokers"), ('["b.example:99999"]', r"mqtt.brokers\[0\]"),
     ('["a.example:1883", "b.example:0"]', r"mqtt.brokers\[1\]")],
)
def test_an_empty_broker_list_or_a_bad_port_is_refused_naming_the_key(brokers, key):
    with pytest.raises(config.ConfigError, match="^" + key):
        config.parse(f"[mqtt]\nbrokers = {brokers}\n")


@pytest.mark.parametrize("key", ["ca", "cert", "key"])
def test_a_missing_tls_file_is_refused_at_load_naming_the_key(tmp_path, key):
    files = {}
    for name in ("ca", "cert", "key"):
        files[name] = tmp_path / f"{name}.pem"
        files[name].write_text("pem\n")
    files[key].unlink()
    path = tmp_path / "gatekiosk.toml"
    path.write_text(
        "[mqtt]\nbrokers = ['mqtts://b.example:8883']\n[mqtt.tls]\n"
        + "".join(f"{name} = '{p}'\n" for name, p in files.items())
    )
    with pytest.raises(config.ConfigError, match=rf"^mqtt\.tls\.{key}: .* not a readable file"):
        config.load(path)


def test_run_refuses_an_issuers_file_holding_a_private_key(tmp_path, capsys):
    private = credentials.generate_keypair("k1", "EdDSA")
    issuers = tmp_path / "issuers.jwks"
    issuers.write_text(json.dumps({"keys": [private]}))
    admins = tmp_path / "admins.jwks"
    admins.write_text(json.dumps({"keys": [credentials.public_jwk(private)]}))
    cfg = tmp_path / "gatekiosk.toml"
    cfg.write_text(
        f'[device]\ndata_dir = "{tmp_path / "data"}"\n'
        f'[keys]\nissuers = "{issuers}"\nadmins = "{admins}"\n'
    )
    rc = cli.main(["run", "--config", str(cfg)])
    err = capsys.readouterr().err
    assert rc == 2
    assert "keys.issuers" in err and "private key material" in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists(), "nothing may start with a private key in place"


@pytest.mark.parametrize("value", ["2", "-1", '"1"', "1.0"])
def test_a_subscription_qos_other_than_0_or_1_is_refused_naming_the_key(value):
    with pytest.raises(config.ConfigError, match=r"^mqtt\.subscribe_qos") as refused:
        config.parse(f"[mqtt]\nsubscribe_qos = {value}\n")
    assert len(str(refused.value).splitlines()) == 1


def test_the_subscription_qos_reaches_the_link_and_defaults_to_the_contract():
    assert config.parse("").mqtt.link_settings("k").subscribe_qos == 1
    assert config.parse("[mqtt]\nsubscribe_qos = 0\n").mqtt.link_settings("k").subscribe_qos == 0
