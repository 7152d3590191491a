"""`gatekiosk provision`: a validated config and public keys, or nothing written at all."""

from __future__ import annotations

import datetime
import json
import os

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from firmware import config, credentials


def provision_args(site, out, *extra, keys_dir=None, brokers=("broker.example:1883",)):
    args = [
        "provision",
        "--config", str(out),
        "--device-id", "gate-0042",
        "--community", "sunshine-garden",
        "--gate", "north-1",
        "--direction", "out",
        "--issuers", str(site.keys["issuers_path"]),
        "--admins", str(site.keys["admins_path"]),
        "--keys-dir", str(keys_dir or site.root / "etc"),
    ]
    for broker in brokers:
        args += ["--broker", broker]
    return [*args, *extra]


def test_provisioned_config_loads_with_the_values_given(site, gatekiosk):
    out = site.root / "etc" / "gatekiosk.toml"
    code, stdout, err = gatekiosk(
        *provision_args(
            site, out, "--data-dir", str(site.data_dir),
            brokers=("broker-a.example:1883", "mqtt://10.0.0.2:1883"),
        )
    )
    assert code == 0, err
    cfg = config.load(out)
    assert (cfg.device.id, cfg.device.community, cfg.device.gate, cfg.device.direction) == (
        "gate-0042", "sunshine-garden", "north-1", "out",
    )
    assert cfg.device.data_dir == str(site.data_dir)
    assert cfg.mqtt.brokers == ["broker-a.example:1883", "mqtt://10.0.0.2:1883"]
    etc = site.root / "etc"
    assert cfg.keys.issuers == str(etc / "issuers.jwks")
    assert cfg.keys.admins == str(etc / "admins.jwks")
    # The copies are the keys the gate was given, loaded by the gate's own loader.
    assert credentials.KeySet.load(cfg.keys.issuers).kids() == ["iss1"]
    assert credentials.KeySet.load(cfg.keys.admins).kids() == ["adm1"]
    # Everything not given keeps its default.
    assert cfg.temperature == config.Config().temperature
    assert f"wrote {out}" in stdout
    assert "sudo hardware/install.sh" in stdout and "gatekiosk selftest --config" in stdout


def test_files_are_world_readable_but_only_owner_writable(site, gatekiosk):
    out = site.root / "etc" / "gatekiosk.toml"
    old_umask = os.umask(0o077)  # a strict umask must not leave the service unable to read
    try:
        code, _out, err = gatekiosk(*provision_args(site, out))
    finally:
        os.umask(old_umask)
    assert code == 0, err
    for path in (out, site.root / "etc" / "issuers.jwks", site.root / "etc" / "admins.jwks"):
        assert path.stat().st_mode & 0o777 == 0o644, path
    assert not list((site.root / "etc").glob(".*.tmp"))


def test_json_output_names_what_was_written(site, gatekiosk):
    out = site.root / "gk.toml"
    code, stdout, _err = gatekiosk(*provision_args(site, out, "--json"))
    assert code == 0
    document = json.loads(stdout)
    assert document["config"] == str(out)
    assert document["keys"]["issuers"]["kids"] == ["iss1"]
    assert any("selftest" in step for step in document["next"])


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--device-id", "Gate_42", "--device-id must match ^[a-z0-9-]{1,64}$"),
        ("--community", "sun/garden", "--community must match"),
        ("--gate", "north+1", "--gate must match"),
        ("--gate", "", "--gate must match"),
    ],
)
def test_bad_ids_are_refused_and_nothing_is_written(site, gatekiosk, flag, value, message):
    out = site.root / "etc" / "gatekiosk.toml"
    argv = provision_args(site, out)
    argv[argv.index(flag) + 1] = value
    code, stdout, err = gatekiosk(*argv)
    assert code == 2 and message in err and stdout == ""
    assert err.count("\n") == 1
    assert not (site.root / "etc").exists()


@pytest.mark.parametrize("broker", ["broker.example", "broker.example:", "broker:99999", ":1883"])
def test_a_broker_without_a_usable_port_is_refused(site, gatekiosk, broker):
    out = site.root / "gk.toml"
    code, _stdout, err = gatekiosk(*provision_args(site, out, brokers=(broker,)))
    assert code == 2 and f"--broker {broker!r}: needs HOST:PORT" in err
    assert not out.exists()


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
def test_a_jwks_with_a_private_key_is_refused(site, gatekiosk, alg):
    private = site.root / "private.jwks"
    private.write_text(json.dumps({"keys": [credentials.generate_keypair("iss9", alg)]}))
    out = site.root / "gk.toml"
    argv = provision_args(site, out)
    argv[argv.index("--issuers") + 1] = str(private)
    code, _stdout, err = gatekiosk(*argv)
    assert code == 2
    assert err.startswith(f"gatekiosk provision: --issuers {private}: holds private key")
    assert "(d)" in err and err.count("\n") == 1
    assert not out.exists() and not (site.root / "etc").exists()


def test_an_invalid_jwks_is_refused_with_the_loaders_reason(site, gatekiosk):
    broken = site.root / "broken.jwks"
    broken.write_text(json.dumps({"keys": [{"kty": "RSA", "kid": "r1", "n": "x", "e": "AQAB"}]}))
    argv = provision_args(site, site.root / "gk.toml")
    argv[argv.index("--admins") + 1] = str(broken)
    code, _stdout, err = gatekiosk(*argv)
    assert code == 2 and f"--admins {broken}: key 'r1': unsupported key type" in err


def test_an_existing_config_is_kept_without_force(site, gatekiosk):
    out = site.root / "etc" / "gatekiosk.toml"
    assert gatekiosk(*provision_args(site, out))[0] == 0
    before = out.read_bytes()
    argv = provision_args(site, out)
    argv[argv.index("--gate") + 1] = "south-2"
    code, _stdout, err = gatekiosk(*argv)
    assert code == 1 and f"{out} exists (use --force to replace it)" in err
    assert out.read_bytes() == before
    code, _stdout, err = gatekiosk(*argv, "--force")
    assert code == 0, err
    assert config.load(out).device.gate == "south-2"


def test_different_keys_already_in_the_keys_dir_are_kept_without_force(site, gatekiosk):
    etc = site.root / "etc"
    etc.mkdir()
    other = {"keys": [credentials.public_jwk(credentials.generate_keypair("old1"))]}
    (etc / "issuers.jwks").write_text(json.dumps(other))
    out = site.root / "gk.toml"
    code, _stdout, err = gatekiosk(*provision_args(site, out))
    assert code == 1 and "issuers.jwks exists (use --force" in err
    assert not out.exists()
    assert credentials.KeySet.load(etc / "issuers.jwks").kids() == ["old1"]


def test_provisioning_again_with_the_same_keys_needs_no_force_for_them(site, gatekiosk):
    out = site.root / "gk.toml"
    assert gatekiosk(*provision_args(site, out))[0] == 0
    out.unlink()
    assert gatekiosk(*provision_args(site, out))[0] == 0


# -- TLS --------------------------------------------------------------------------------------


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject, issuer, public_key, signing_key, ca):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    return builder.sign(signing_key, hashes.SHA256())


def _pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@pytest.fixture
def tls_files(tmp_path):
    ca_key = ec.generate_private_key(ec.SECP256R1())
    gate_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate("test-ca", "test-ca", ca_key.public_key(), ca_key, ca=True)
    gate = _certificate("gate-0042", "test-ca", gate_key.public_key(), ca_key, ca=False)
    files = {
        "ca": tmp_path / "ca.pem",
        "cert": tmp_path / "gate.pem",
        "key": tmp_path / "gate.key",
        "other_key": tmp_path / "other.key",
    }
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(gate.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(_pem_key(gate_key))
    files["other_key"].write_bytes(_pem_key(ec.generate_private_key(ec.SECP256R1())))
    return files


def test_tls_files_are_checked_and_written_as_absolute_paths(site, gatekiosk, tls_files):
    out = site.root / "gk.toml"
    code, _stdout, err = gatekiosk(
        *provision_args(
            site, out,
            "--tls-ca", str(tls_files["ca"]),
            "--tls-cert", str(tls_files["cert"]),
            "--tls-key", str(tls_files["key"]),
            brokers=("mqtts://broker.example:8883",),
        )
    )
    assert code == 0, err
    tls = config.load(out).mqtt.tls
    assert (tls.ca, tls.cert, tls.key) == (
        str(tls_files["ca"]), str(tls_files["cert"]), str(tls_files["key"]),
    )


def test_an_mqtts_broker_without_a_ca_is_refused(site, gatekiosk):
    out = site.root / "gk.toml"
    code, _stdout, err = gatekiosk(*provision_args(site, out, brokers=("mqtts://b.example:8883",)))
    assert code == 2 and "mqtt.tls.ca: an mqtts:// broker needs the CA" in err
    assert not out.exists()


def test_a_client_key_that_does_not_match_its_certificate_is_refused(
    site, gatekiosk, tls_files
):
    out = site.root / "gk.toml"
    code, _stdout, err = gatekiosk(
        *provision_args(
            site, out,
            "--tls-ca", str(tls_files["ca"]),
            "--tls-cert", str(tls_files["cert"]),
            "--tls-key", str(tls_files["other_key"]),
        )
    )
    assert code == 2 and "--tls-cert/--tls-key: do not load as a pair" in err
    assert not out.exists()


def test_a_client_certificate_without_its_key_is_refused(site, gatekiosk, tls_files):
    code, _stdout, err = gatekiosk(
        *provision_args(
            site, site.root / "gk.toml",
            "--tls-ca", str(tls_files["ca"]), "--tls-cert", str(tls_files["cert"]),
        )
    )
    assert code == 2 and "--tls-cert and --tls-key go together" in err


def test_direction_is_in_or_out(site, gatekiosk):
    argv = provision_args(site, site.root / "gk.toml")
    argv[argv.index("--direction") + 1] = "both"
    code, _stdout, err = gatekiosk(*argv)
    assert code == 2 and "invalid choice: 'both'" in err and err.count("\n") == 1
