"""Compact passes interoperate with an independent COSE implementation (pycose), both ways."""

from __future__ import annotations

import base45
import cbor2
import pytest

from firmware import credentials
from firmware.core import b64

pycose = pytest.importorskip("pycose")
from pycose.algorithms import EdDSA, Es256  # noqa: E402
from pycose.headers import KID, Algorithm  # noqa: E402
from pycose.keys import EC2Key, OKPKey  # noqa: E402
from pycose.keys.curves import P256, Ed25519  # noqa: E402
from pycose.messages import Sign1Message  # noqa: E402


def _pycose_key(jwk: dict, private: bool) -> object:
    secret = {"d": b64.decode(jwk["d"])} if private else {}
    if jwk["kty"] == "OKP":
        return OKPKey(crv=Ed25519, x=b64.decode(jwk["x"]), **secret)
    return EC2Key(crv=P256, x=b64.decode(jwk["x"]), y=b64.decode(jwk["y"]), **secret)


def _pycose_decode(code: str) -> Sign1Message:
    assert code.startswith("GK1:")
    outer = cbor2.loads(base45.b45decode(code[4:]))
    assert outer.tag == 18
    # pycose's own decode() expects a list and a dict where cbor2 6 gives a tuple and a frozen
    # map inside a tag; past that container swap the parsing is pycose's own.
    protected, unprotected, payload, signature = outer.value
    return Sign1Message.from_cose_obj([protected, dict(unprotected), payload, signature], True)


@pytest.mark.parametrize("key_name", ["ed_key", "es_key"])
def test_a_pass_signed_by_pycose_verifies_on_the_gate(request, key_name, keys, jws):
    key = request.getfixturevalue(key_name)
    alg = EdDSA if key["kty"] == "OKP" else Es256
    message = Sign1Message(
        phdr={Algorithm: alg, KID: key["kid"].encode(), 16: "gatepass+cwt"},
        payload=cbor2.dumps(jws.cwt_claims()),
    )
    message.key = _pycose_key(key, private=True)
    result = credentials.verify_pass(jws.qr_text(message.encode()), keys)
    assert result.ok, result.reason
    assert result.claims == jws.resident_claims()


@pytest.mark.parametrize("key_name", ["ed_key", "es_key"])
def test_a_pass_issued_by_the_firmware_verifies_with_pycose(request, key_name, jws):
    key = request.getfixturevalue(key_name)
    message = _pycose_decode(credentials.sign_cwt_pass(jws.resident_claims(), key))
    message.key = _pycose_key(key, private=False)
    assert message.verify_signature()
    assert message.phdr[Algorithm] == (EdDSA if key["kty"] == "OKP" else Es256)
    assert message.phdr[KID] == key["kid"].encode()
    assert message.phdr[16] == "gatepass+cwt"
    assert message.uhdr == {}
    assert cbor2.loads(message.payload) == jws.cwt_claims()


def test_pycose_refuses_a_firmware_pass_under_another_key(ed_key, jws):
    other = credentials.generate_keypair("ed1", "EdDSA")
    message = _pycose_decode(credentials.sign_cwt_pass(jws.resident_claims(), ed_key))
    message.key = _pycose_key(other, private=False)
    assert not message.verify_signature()
