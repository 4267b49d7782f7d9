"""AccountStore, on every backend: API keys, users and display tokens (only hashes)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.store.fixtures import T0


def test_api_keys_store_only_hashes_and_revoke(store) -> None:
    key_id = store.add_api_key("simrs-rsud", "ingest", "a" * 64)
    store.add_api_key("dashboard-bpbd", "read", "b" * 64)
    assert store.find_api_key("a" * 64) == {"id": key_id, "name": "simrs-rsud", "role": "ingest"}
    assert store.find_api_key("c" * 64) is None
    assert store.revoke_api_key(key_id) is True
    assert store.revoke_api_key(key_id) is False  # already revoked
    assert store.find_api_key("a" * 64) is None
    keys = store.api_keys()
    assert list(keys["name"]) == ["simrs-rsud", "dashboard-bpbd"]
    assert "key_hash" not in keys.columns and pd.notna(keys["revoked_at"].iloc[0])

# accounts, display tokens and the audit log (issue 8) ---------------------------------------------------------
def test_users_are_found_in_any_case_and_unique(store) -> None:
    ana = store.add_user("Ana", "operator", "hash-ana")
    budi = store.add_user("budi", "planner", "hash-budi")
    assert ana != budi
    expected = {"id": ana, "username": "ana", "role": "operator", "password_hash": "hash-ana", "disabled": False,
                "session_version": 1}
    assert store.find_user("ANA") == expected
    assert store.find_user("ana") == expected
    assert store.get_user(ana) == expected
    assert store.find_user("budi")["role"] == "planner"
    assert store.find_user("citra") is None
    assert store.get_user(budi + 100) is None
    assert store.get_user(2**70) is None  # an id from a forged cookie must not overflow the query
    with pytest.raises(ValueError, match="user ana exists"):
        store.add_user("aNA", "admin", "other")
    assert store.find_user("ana")["role"] == "operator", "a refused duplicate must not change the user"
    assert list(store.users()["username"]) == ["ana", "budi"]

def test_password_role_and_disabled_changes_bump_the_session_version(store, monkeypatch) -> None:
    ana = store.add_user("ana", "operator", "hash-1")
    assert store.set_user_password("Ana", "hash-2") is True
    assert store.get_user(ana)["password_hash"] == "hash-2"
    assert store.get_user(ana)["session_version"] == 2
    assert store.set_user_role("ANA", "planner") is True
    assert (store.get_user(ana)["role"], store.get_user(ana)["session_version"]) == ("planner", 3)

    monkeypatch.setattr("ntpd_map.store.model.now_s", lambda: T0)
    assert store.set_user_disabled("ana", True) is True
    got = store.find_user("ana")  # a disabled user is still found (sign-in tells "disabled" from "unknown")
    assert (got["disabled"], got["session_version"]) == (True, 4)
    monkeypatch.setattr("ntpd_map.store.model.now_s", lambda: T0 + 100)
    assert store.set_user_disabled("ana", True) is True
    assert int(store.users()["disabled_at"].iloc[0]) == T0, "disabling again keeps when it was first disabled"
    assert store.get_user(ana)["session_version"] == 5
    assert store.set_user_disabled("ana", False) is True
    got = store.get_user(ana)
    assert (got["disabled"], got["session_version"]) == (False, 6)
    assert pd.isna(store.users()["disabled_at"].iloc[0])

    assert store.set_user_password("nobody", "h") is False
    assert store.set_user_role("nobody", "admin") is False
    assert store.set_user_disabled("nobody", True) is False
    assert list(store.users()["username"]) == ["ana"]

def test_users_never_carry_the_password_hash(store) -> None:
    store.add_user("ana", "admin", "$argon2id$secret-hash")
    users = store.users()
    assert list(users.columns) == ["id", "username", "role", "created_at", "disabled_at", "session_version"]
    assert not users.astype(str).apply(lambda c: c.str.contains("secret-hash")).to_numpy().any()
    assert (int(users["session_version"].iloc[0]), users["role"].iloc[0]) == (1, "admin")
    assert int(users["created_at"].iloc[0]) > T0

@pytest.mark.parametrize("role", ["ingest", "read", "Admin", ""])
def test_unknown_user_role_is_rejected(store, role) -> None:
    with pytest.raises(ValueError, match="role"):
        store.add_user("ana", role, "h")
    assert store.find_user("ana") is None
    store.add_user("budi", "wall", "h")
    with pytest.raises(ValueError, match="role"):
        store.set_user_role("budi", role)
    assert store.find_user("budi")["role"] == "wall"
    assert store.find_user("budi")["session_version"] == 1

def test_display_tokens_store_only_hashes_and_revoke(store) -> None:
    hall = store.add_display_token("Ruang 112", "a" * 64)
    lobby = store.add_display_token("Lobi", "b" * 64)
    assert store.find_display_token("a" * 64) == {"id": hall, "name": "Ruang 112"}
    assert store.find_display_token("c" * 64) is None
    assert store.display_token_active(hall) and store.display_token_active(lobby)
    assert not store.display_token_active(lobby + 100)
    assert not store.display_token_active(2**70)

    store.touch_display_token(hall, T0 + 60)
    store.touch_display_token(hall, T0)  # another worker's older touch lands late: last seen never moves back
    tokens = store.display_tokens().set_index("id")
    assert int(tokens.loc[hall, "last_seen_at"]) == T0 + 60
    assert pd.isna(tokens.loc[lobby, "last_seen_at"])

    assert store.revoke_display_token(hall) is True
    assert store.revoke_display_token(hall) is False  # already revoked
    assert store.revoke_display_token(lobby + 100) is False
    assert store.find_display_token("a" * 64) is None
    assert store.display_token_revoked("a" * 64)  # a wall is told "revoked", not "unknown"
    assert not store.display_token_revoked("b" * 64) and not store.display_token_revoked("c" * 64)
    assert not store.display_token_active(hall)
    assert store.display_token_active(lobby), "revoking one token leaves the others"
    tokens = store.display_tokens()
    assert list(tokens.columns) == ["id", "name", "created_at", "revoked_at", "last_seen_at"]
    assert list(tokens["name"]) == ["Ruang 112", "Lobi"]
    assert pd.notna(tokens["revoked_at"].iloc[0]) and pd.isna(tokens["revoked_at"].iloc[1])
