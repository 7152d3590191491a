"""verify_command: admin command tokens (payloads "command", DESIGN 2.4) and the jti stores."""

from __future__ import annotations

import sqlite3

import pytest

from firmware import credentials
from firmware.commands import auth
from firmware.commands.auth import MemoryJtiStore, SqliteJtiStore, verify_command

NOW = 1_767_225_600.0
COMMUNITY = "sunshine-garden"
GATE = "north-1"
CMD_TYP = "gatecmd+jwt"


@pytest.fixture(scope="module")
def admin_key():
    return credentials.generate_keypair("adm1", "EdDSA")


@pytest.fixture(scope="module")
def admin_keys(admin_key):
    return credentials.KeySet.from_dict({"keys": [credentials.public_jwk(admin_key)]})


def _claims(**overrides):
    claims = {
        "iss": COMMUNITY,
        "sub": "operator-7",
        "aud": GATE,
        "cmd": "open",
        "jti": "c0ffee-0001",
        "iat": int(NOW),
        "exp": int(NOW) + 30,
        "args": {"reason": "delivery van", "seconds": 5},
    }
    for name, value in overrides.items():
        if value is _DROP:
            del claims[name]
        else:
            claims[name] = value
    return claims


_DROP = object()


def _verify(token, keys, store=None, name="open", now=NOW):
    return verify_command(
        token,
        keys,
        community_id=COMMUNITY,
        gate_id=GATE,
        name=name,
        now=now,
        seen=store if store is not None else MemoryJtiStore(),
    )


def test_a_good_command_is_accepted_and_its_jti_recorded(admin_key, admin_keys):
    store = MemoryJtiStore()
    token = credentials.sign_token(_claims(), admin_key, CMD_TYP)
    result = _verify(token, admin_keys, store)
    assert (result.ok, result.reason) == (True, None)
    assert result.claims["args"] == {"reason": "delivery van", "seconds": 5}
    assert store.seen("c0ffee-0001")


@pytest.mark.parametrize("name", ["open", "ping", "status-list-refresh"])
def test_every_known_command_is_accepted_on_its_own_topic(name, admin_key, admin_keys):
    token = credentials.sign_token(_claims(cmd=name, args=_DROP), admin_key, CMD_TYP)
    assert _verify(token, admin_keys, name=name).ok


def test_an_es256_admin_key_works_too():
    key = credentials.generate_keypair("adm2", "ES256")
    keys = credentials.KeySet.from_dict({"keys": [credentials.public_jwk(key)]})
    assert _verify(credentials.sign_token(_claims(), key, CMD_TYP), keys).ok


# Each row: claims overrides, topic name, now, expected reason.
REFUSALS = [
    ({"iss": "other-garden"}, "open", NOW, "wrong_issuer"),
    ({"aud": "south-2"}, "open", NOW, "wrong_gate"),
    ({"aud": [GATE]}, "open", NOW, "malformed"),
    ({"cmd": "ping"}, "open", NOW, "unknown_command"),
    ({"cmd": "reboot"}, "reboot", NOW, "unknown_command"),
    ({"cmd": "OPEN"}, "open", NOW, "unknown_command"),
    ({"exp": int(NOW)}, "open", NOW, "expired"),
    ({"exp": int(NOW) - 1, "iat": int(NOW) - 60}, "open", NOW, "expired"),
    ({"exp": int(NOW) + 66}, "open", NOW, "exp_too_far"),
    ({"exp": int(NOW) + 3600}, "open", NOW, "exp_too_far"),
    ({"jti": _DROP}, "open", NOW, "malformed"),
    ({"jti": ""}, "open", NOW, "malformed"),
    ({"jti": "j" * 65}, "open", NOW, "malformed"),
    ({"jti": 17}, "open", NOW, "malformed"),
    ({"sub": _DROP}, "open", NOW, "malformed"),
    ({"sub": "s" * 65}, "open", NOW, "malformed"),
    ({"iss": _DROP}, "open", NOW, "malformed"),
    ({"aud": _DROP}, "open", NOW, "malformed"),
    ({"cmd": _DROP}, "open", NOW, "malformed"),
    ({"iat": _DROP}, "open", NOW, "malformed"),
    ({"exp": _DROP}, "open", NOW, "malformed"),
    ({"exp": "soon"}, "open", NOW, "malformed"),
    ({"exp": True}, "open", NOW, "malformed"),
    ({"iat": int(NOW) + 40}, "open", NOW, "malformed"),  # issued after it expires
    ({"args": []}, "open", NOW, "malformed"),
    ({"args": {"reason": "r" * 201}}, "open", NOW, "malformed"),
    ({"args": {"seconds": 0}}, "open", NOW, "malformed"),
    ({"args": {"seconds": "5"}}, "open", NOW, "malformed"),
]


@pytest.mark.parametrize(("overrides", "name", "now", "reason"), REFUSALS)
def test_refusal_table(overrides, name, now, reason, admin_key, admin_keys):
    store = MemoryJtiStore()
    token = credentials.sign_token(_claims(**overrides), admin_key, CMD_TYP)
    result = _verify(token, admin_keys, store, name=name, now=now)
    assert (result.ok, result.reason) == (False, reason)
    assert len(store) == 0  # a refused command never burns its jti


def test_exp_may_be_a_minute_ahead_plus_the_issuers_clock_skew(admin_key, admin_keys):
    on_edge = credentials.sign_token(_claims(exp=int(NOW) + 65), admin_key, CMD_TYP)
    assert _verify(on_edge, admin_keys).ok


def test_the_issuers_clock_skew_is_configurable(admin_key, admin_keys):
    token = credentials.sign_token(_claims(exp=int(NOW) + 61), admin_key, CMD_TYP)
    result = verify_command(
        token,
        admin_keys,
        community_id=COMMUNITY,
        gate_id=GATE,
        name="open",
        now=NOW,
        seen=MemoryJtiStore(),
        skew_s=0,
    )
    assert result.reason == "exp_too_far"


def test_a_refused_command_still_names_its_jti_once_the_signature_verified(admin_key, admin_keys):
    token = credentials.sign_token(_claims(aud="south-2"), admin_key, CMD_TYP)
    assert _verify(token, admin_keys).claims["jti"] == "c0ffee-0001"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ({"alg": "EdDSA", "kid": "adm1", "typ": "gatepass+jwt"}, "malformed"),
        ({"alg": "EdDSA", "kid": "adm1"}, "malformed"),
        ({"alg": "none", "kid": "adm1", "typ": CMD_TYP}, "unsupported_algorithm"),
        ({"alg": "HS256", "kid": "adm1", "typ": CMD_TYP}, "unsupported_algorithm"),
        ({"alg": "EdDSA", "kid": "issuer-key", "typ": CMD_TYP}, "unknown_key"),
        ({"alg": "ES256", "kid": "adm1", "typ": CMD_TYP}, "bad_signature"),
    ],
)
def test_header_refusals_use_the_cmd_result_codes(header, reason, admin_keys, jws):
    token = jws.forge(header, _claims())
    result = _verify(token, admin_keys)
    assert (result.ok, result.reason, result.claims) == (False, reason, None)


def test_a_forged_signature_is_refused(admin_keys):
    impostor = credentials.generate_keypair("adm1", "EdDSA")
    result = _verify(credentials.sign_token(_claims(), impostor, CMD_TYP), admin_keys)
    assert (result.reason, result.claims) == ("bad_signature", None)


def test_a_pass_signed_by_an_admin_key_is_not_a_command(admin_key, admin_keys):
    token = credentials.sign_token(_claims(), admin_key, "gatepass+jwt")
    assert _verify(token, admin_keys).reason == "malformed"


@pytest.mark.parametrize("token", ["", "not a token", "a.b.c", None, 12, "x" * 5000])
def test_garbage_is_malformed(token, admin_keys):
    assert _verify(token, admin_keys).reason == "malformed"


def test_a_command_is_obeyed_once(admin_key, admin_keys):
    store = MemoryJtiStore()
    token = credentials.sign_token(_claims(), admin_key, CMD_TYP)
    assert _verify(token, admin_keys, store).ok
    assert _verify(token, admin_keys, store, now=NOW + 1).reason == "replayed"


def test_a_misaddressed_copy_does_not_burn_the_real_commands_jti(admin_key, admin_keys):
    store = MemoryJtiStore()
    wrong = credentials.sign_token(_claims(aud="south-2"), admin_key, CMD_TYP)
    right = credentials.sign_token(_claims(), admin_key, CMD_TYP)
    assert _verify(wrong, admin_keys, store).reason == "wrong_gate"
    assert _verify(right, admin_keys, store).ok


def test_replay_is_refused_after_the_store_is_reopened(admin_key, admin_keys, tmp_path):
    path = tmp_path / "commands.db"
    token = credentials.sign_token(_claims(), admin_key, CMD_TYP)
    with SqliteJtiStore(path) as store:
        assert _verify(token, admin_keys, store).ok
    with SqliteJtiStore(path) as reopened:
        assert reopened.seen("c0ffee-0001")
        assert _verify(token, admin_keys, reopened, now=NOW + 2).reason == "replayed"


def test_the_sqlite_store_is_durable_wal_with_full_sync(tmp_path):
    path = tmp_path / "commands.db"
    with SqliteJtiStore(path) as store:
        store.add("j1", NOW)
        mode = store._db.execute("PRAGMA journal_mode").fetchone()[0]
        sync = store._db.execute("PRAGMA synchronous").fetchone()[0]
    assert (mode, sync) == ("wal", 2)  # 2 = FULL


@pytest.mark.parametrize("make_store", [MemoryJtiStore, "sqlite"])
def test_stores_prune_jtis_expired_more_than_a_day_before_the_newest(make_store, tmp_path):
    store = SqliteJtiStore(tmp_path / "c.db") if make_store == "sqlite" else make_store()
    store.add("old", NOW)
    store.add("recent", NOW + 3600)
    store.add("new", NOW + auth.JTI_RETENTION_S + 1)
    assert not store.seen("old")
    assert store.seen("recent") and store.seen("new")
    assert len(store) == 2


def test_an_unwritable_store_raises_a_store_error(tmp_path):
    with pytest.raises(auth.JtiStoreError):
        SqliteJtiStore(tmp_path / "missing-dir" / "c.db")
    store = SqliteJtiStore(tmp_path / "c.db")
    store._db.close()  # simulate the storage going away under the store
    with pytest.raises(auth.JtiStoreError):
        store.add("j", NOW)
    with pytest.raises(auth.JtiStoreError):
        store.seen("j")


def test_the_retained_reason_is_the_cmd_result_code():
    assert auth.RETAINED == "retained"


def test_sqlite_store_file_is_an_ordinary_database(tmp_path):
    path = tmp_path / "c.db"
    with SqliteJtiStore(path) as store:
        store.add("j1", NOW)
    rows = sqlite3.connect(path).execute("SELECT jti, exp FROM seen_jti").fetchall()
    assert rows == [("j1", NOW)]
