"""Administration over REST: who may call it, accounts, sign-up policy, invitations."""

import pytest
import tornado.httpclient
from conftest import PASSWORD


async def admin_and_member(api):
    return await api.signup("ada"), await api.signup("bob")


@pytest.mark.gen_test
async def test_the_first_account_is_the_administrator_and_the_second_is_not(api):
    ada, bob = await admin_and_member(api)
    assert (await ada.call("GET", "/api/me/"))[1]["is_admin"] is True
    assert (await bob.call("GET", "/api/me/"))[1]["is_admin"] is False


@pytest.mark.gen_test
async def test_admin_endpoints_refuse_strangers_and_members(api):
    _, bob = await admin_and_member(api)
    calls = [
        ("GET", "/api/admin/users", None),
        ("POST", "/api/admin/users/ada/deactivate", {}),
        ("POST", "/api/admin/users/ada/activate", {}),
        ("GET", "/api/admin/settings", None),
        ("PATCH", "/api/admin/settings", {"signup_policy": "invite"}),
        ("POST", "/api/admin/invite/reset", {}),
    ]
    for method, path, body in calls:
        assert (await api.call(method, path, body))[0] == 401, path
        assert (await bob.call(method, path, body))[0] == 403, path


@pytest.mark.gen_test
async def test_the_admin_lists_every_account(api):
    ada, bob = await admin_and_member(api)
    status, data = await ada.call("GET", "/api/admin/users")
    assert status == 200
    assert [set(u) for u in data["users"]] == [
        {"id", "username", "is_admin", "is_active", "created_at", "name_problem"}
    ] * 2
    assert [
        (u["username"], u["is_admin"], u["is_active"], u["name_problem"])
        for u in data["users"]
    ] == [("ada", True, True, None), ("bob", False, True, None)]


@pytest.mark.gen_test
async def test_deactivation_cuts_open_sockets_and_the_token_at_once(api):
    ada, bob = await admin_and_member(api)
    ui = await bob.socket()
    await ui.read_message()  # hello
    uri = await bob.start_chat("lobby")
    room = await bob.socket(f"/ws/chat/{uri}/")
    status, data = await ada.call("POST", "/api/admin/users/bob/deactivate", {})
    assert status == 200 and data["is_active"] is False and data["username"] == "bob"
    for ws in (ui, room):
        while await ws.read_message() is not None:
            pass
        assert ws.close_code == 4401
    assert (await bob.call("GET", "/api/me/"))[0] == 401
    status, _ = await api.call(
        "POST", "/auth/token/login/", {"username": "bob", "password": PASSWORD}
    )
    assert status == 400
    with pytest.raises(tornado.httpclient.HTTPClientError) as refused:
        await bob.socket()
    assert refused.value.code == 401


@pytest.mark.gen_test
async def test_a_reactivated_account_logs_in_again_but_its_old_token_stays_dead(api):
    ada, bob = await admin_and_member(api)
    await ada.call("POST", "/api/admin/users/bob/deactivate", {})
    status, data = await ada.call("POST", "/api/admin/users/bob/activate", {})
    assert status == 200 and data["is_active"] is True
    assert (await bob.call("GET", "/api/me/"))[0] == 401
    status, _ = await api.call(
        "POST", "/auth/token/login/", {"username": "bob", "password": PASSWORD}
    )
    assert status == 200


@pytest.mark.gen_test
async def test_an_admin_cannot_deactivate_themself_or_a_stranger(api):
    ada, _ = await admin_and_member(api)
    assert (await ada.call("POST", "/api/admin/users/ada/deactivate", {}))[0] == 400
    assert (await ada.call("POST", "/api/admin/users/nobody/deactivate", {}))[0] == 404
    assert (await ada.call("GET", "/api/me/"))[0] == 200


@pytest.mark.gen_test
async def test_sign_up_is_open_by_default(api):
    ada, _ = await admin_and_member(api)
    status, data = await ada.call("GET", "/api/admin/settings")
    assert status == 200
    assert data["signup_policy"] == "open" and data["invite_code"]


@pytest.mark.gen_test
async def test_invite_only_sign_up_refuses_without_the_link_and_accepts_with_it(api):
    ada, _ = await admin_and_member(api)
    status, data = await ada.call(
        "PATCH", "/api/admin/settings", {"signup_policy": "invite"}
    )
    assert status == 200 and data["signup_policy"] == "invite"
    code = data["invite_code"]
    body = {"username": "carol", "password": PASSWORD}
    status, data = await api.call("POST", "/auth/users/", body)
    assert status == 400 and list(data) == ["invite"]
    status, data = await api.call("POST", "/auth/users/", dict(body, invite="wrong"))
    assert status == 400 and "invite" in data
    status, _ = await api.call("POST", "/auth/users/", dict(body, invite=code))
    assert status == 201


@pytest.mark.gen_test
async def test_resetting_the_invitation_invalidates_old_links(api):
    ada, _ = await admin_and_member(api)
    old = (await ada.call("PATCH", "/api/admin/settings", {"signup_policy": "invite"}))[1][
        "invite_code"
    ]
    status, data = await ada.call("POST", "/api/admin/invite/reset", {})
    assert status == 200 and data["invite_code"] != old
    body = {"username": "carol", "password": PASSWORD}
    assert (await api.call("POST", "/auth/users/", dict(body, invite=old)))[0] == 400
    new = dict(body, invite=data["invite_code"])
    assert (await api.call("POST", "/auth/users/", new))[0] == 201
    assert (await ada.call("GET", "/api/admin/settings"))[1]["invite_code"] == new["invite"]


@pytest.mark.gen_test
async def test_a_bad_sign_up_policy_is_refused_and_changes_nothing(api):
    ada, _ = await admin_and_member(api)
    for body in ({"signup_policy": "closed"}, {"signup_policy": 3}, {}):
        status, data = await ada.call("PATCH", "/api/admin/settings", body)
        assert status == 400 and "signup_policy" in data
    assert (await ada.call("GET", "/api/admin/settings"))[1]["signup_policy"] == "open"
    status, _ = await ada.call("PATCH", "/api/admin/settings", raw="{nope")
    assert status == 400


@pytest.mark.gen_test
async def test_the_first_account_may_sign_up_even_on_an_invite_only_box(api):
    import models

    models.Setting.write("signup_policy", "invite")
    status, data = await api.call(
        "POST", "/auth/users/", {"username": "first", "password": PASSWORD}
    )
    assert status == 201
