"""Administration over REST: accounts, the sign-up policy, the invitation code.

Only administrators may call these (401 anonymous, 403 anyone else). The first account
created on a box is its administrator.
"""

from handlers.base import APIError, BaseHandler, bad_request
from models import Setting, User


class AdminHandler(BaseHandler):
    async def prepare(self):
        await super().prepare()
        user = self.require_user()
        if not user.is_admin:
            raise APIError(
                403, {"detail": "You do not have permission to perform this action."}
            )


class AdminUsersHandler(AdminHandler):
    async def get(self):
        self.send_json({"users": await self.read(User.admin_list)})


class AdminUserActiveHandler(AdminHandler):
    """POST .../<username>/deactivate or .../activate."""

    async def post(self, username, action):
        user = await self.read(User.by_username, username)
        if user is None:
            raise APIError(404, {"detail": "Not found."})
        active = action == "activate"
        if not active and user.id == self.current_user.id:
            raise bad_request({"detail": "You cannot deactivate your own account."})
        await self.writer.run(user.set_active, active)
        if not active:
            # Cut their open sockets now, here and on every process.
            await self.messenger.signed_out(user.id)
        self.send_json(user.admin_view())


class AdminUserRenameHandler(AdminHandler):
    """POST .../<username>/rename with ``{"username": new name}``.

    The account keeps its id, logins, chats and messages; everyone sees the new name
    from their next load of a chat.
    """

    async def post(self, username):
        user = await self.read(User.by_username, username)
        if user is None:
            raise APIError(404, {"detail": "Not found."})
        new_name = self.body().get("username")
        if new_name is None:
            raise bad_request({"username": ["This field is required."]})
        await self.writer.run(user.rename, new_name)
        self.send_json(user.admin_view())


class AdminSettingsHandler(AdminHandler):
    async def get(self):
        settings = await self.read(Setting.as_dict)
        if settings["invite_code"] is None:
            settings["invite_code"] = await self.writer.run(Setting.new_invite_code)
        self.send_json(settings)

    async def patch(self):
        data = self.body()
        if "signup_policy" not in data:
            raise bad_request({"signup_policy": ["This field is required."]})
        await self.writer.run(Setting.set_signup_policy, data["signup_policy"])
        self.send_json(await self.read(Setting.as_dict))


class AdminInviteResetHandler(AdminHandler):
    async def post(self):
        code = await self.writer.run(Setting.new_invite_code)
        self.send_json({"invite_code": code})
