import json

import pytest

from gateway.s3.accounts import AccountStore, AuthDataError, load_accounts


def test_default_accounts_have_the_documented_keys():
    store = load_accounts(env={})
    first, secret1 = store.lookup("accessKey1")
    second, secret2 = store.lookup("accessKey2")
    assert (secret1, secret2) == ("verySecretKey1", "verySecretKey2")
    assert first.canonical_id != second.canonical_id
    for account in (first, second):
        assert len(account.canonical_id) == 64
        int(account.canonical_id, 16)
    assert store.lookup("nope") is None
    assert store.by_canonical_id(first.canonical_id) == first


def test_env_credentials_replace_every_file_account(tmp_path):
    path = tmp_path / "authdata.json"
    path.write_text(
        json.dumps(
            {"accounts": [{"name": "x", "canonicalID": "c" * 64, "keys": [{"access": "a", "secret": "s"}]}]}
        )
    )
    env = {"SCALITY_ACCESS_KEY_ID": "newAccessKey", "SCALITY_SECRET_ACCESS_KEY": "newSecretKey"}
    store = load_accounts(str(path), env=env)
    account, secret = store.lookup("newAccessKey")
    assert account.name == "CustomAccount"
    assert secret == "newSecretKey"
    assert store.lookup("a") is None
    assert store.lookup("accessKey1") is None
    assert load_accounts(env=env).lookup("newAccessKey")[0] == account


def test_file_accounts_in_authdata_format(tmp_path):
    document = {
        "accounts": [
            {
                "name": "Alice",
                "email": "alice@example.com",
                "arn": "arn:aws:iam::111111111111:root",
                "canonicalID": "a" * 64,
                "shortid": "111111111111",
                "keys": [{"access": "AK1", "secret": "S1"}, {"access": "AK2", "secret": "S2"}],
            }
        ]
    }
    path = tmp_path / "authdata.json"
    path.write_text(json.dumps(document))
    store = load_accounts(str(path), env={})
    assert store.lookup("AK1")[0] is store.lookup("AK2")[0]
    assert store.lookup("AK2")[1] == "S2"
    assert store.lookup("AK1")[0].short_id == "111111111111"
    assert store.lookup("accessKey1") is None


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"accounts": "x"},
        {"accounts": [{"canonicalID": "a"}]},
        {"accounts": [{"name": "n", "canonicalID": "a", "keys": [{"access": "k"}]}]},
        {
            "accounts": [
                {"name": "n", "canonicalID": "a", "keys": [{"access": "k", "secret": "s"}]},
                {"name": "m", "canonicalID": "b", "keys": [{"access": "k", "secret": "t"}]},
            ]
        },
    ],
)
def test_bad_authdata_fails_fast(document):
    with pytest.raises(AuthDataError):
        AccountStore.from_dict(document)


def test_only_one_env_variable_is_an_error():
    with pytest.raises(AuthDataError):
        load_accounts(env={"SCALITY_ACCESS_KEY_ID": "x"})
