"""Files over HTTP: uploads streamed to disk, downloads for members only, profile
pictures, and what files take for administrators (docs/files.md)."""

import asyncio
import urllib.parse

import tornado.web

from database import serving
from files import MAX_AVATAR_BYTES, MB, clean_name
from handlers.admin import AdminHandler
from handlers.base import (
    CONTENT_SECURITY_POLICY,
    APIError,
    Authenticated,
    BaseHandler,
    JSONErrors,
    bad_request,
    member_room,
    set_security_headers,
)
from models import INLINE_TYPES, PHOTO_TYPES, Attachment, Blob, User
from writer import DiskFull

# The slowest link a body should still arrive over: 0.5 Mbit/s, a phone at the far
# end of the house's Wi-Fi. A 25 MB file then takes about seven minutes.
SLOWEST_BYTES_PER_SECOND = 64 * 1024
# Files never change under an address (a new upload is a new id, a new picture a new
# ?v=), so a browser may keep them as long as it likes; private, as they are not for
# everyone.
CACHE_FOREVER = "private, max-age=31536000, immutable"
NOT_FOUND = {"detail": "Not found."}
# Browsers and HTTP libraries send chunks of 64 KiB or less.
CHUNK_MARGIN = 1024 * 1024


class StreamedBody:
    """For ``stream_request_body`` handlers: the body goes to a temporary file, off
    the event loop, and is refused as soon as it is known to be too large."""

    upload = None
    received = 0
    _writing = None

    @property
    def files(self):
        return self.messenger.files

    async def start_body(self, limit, too_large):
        """Expect a body of at most ``limit`` bytes; ``too_large`` says why not more."""
        self.limit, self.too_large = limit, too_large
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > limit:
            raise APIError(413, {"detail": too_large})
        # The server's own cap is for small API bodies; this one may be larger, and
        # take the time a slow link needs. ``data_received`` answers 413 as soon as a
        # body without a length passes the limit; Tornado's own cap, a chunk further,
        # only cuts off a client whose single chunk is larger than that.
        connection = self.request.connection
        connection.set_max_body_size(limit + CHUNK_MARGIN)
        connection.set_body_timeout(
            max(self.settings.get("body_timeout", 30), limit / SLOWEST_BYTES_PER_SECOND)
        )
        self.upload = await self.files.begin()

    async def data_received(self, chunk):
        if self.upload is None or self._finished:
            return
        self.received += len(chunk)
        if self.received > self.limit:
            await self.refuse(APIError(413, {"detail": self.too_large}))
            return
        self._writing = asyncio.ensure_future(self.files.write(self.upload, chunk))
        try:
            await self._writing
        except DiskFull as error:
            self.upload = None  # the write removed it
            await self.refuse(error)

    async def refuse(self, error):
        """Answer now, with the body unread; Tornado then closes the connection."""
        await self.drop_upload()
        code = 503 if isinstance(error, DiskFull) else error.status_code
        self.send_error(code, exc_info=(type(error), error, None))

    async def drop_upload(self):
        upload, self.upload = self.upload, None
        if upload is not None:
            if self._writing is not None and not self._writing.done():
                await asyncio.wait([self._writing])
            await self.files.discard(upload)

    async def take_upload(self):
        """The whole body, now the handler's to store; 400 if there was none (and the
        empty file is gone by the time the client hears so)."""
        upload, self.upload = self.upload, None
        if upload is None or upload.size == 0:
            if upload is not None:
                await self.files.discard(upload)
            raise bad_request({"file": ["The file is empty: send its bytes as the body."]})
        return upload

    def on_connection_close(self):
        super().on_connection_close()
        # A cancelled upload leaves nothing behind.
        if self.upload is not None:
            asyncio.ensure_future(self.drop_upload())

    def on_finish(self):
        if self.upload is not None:
            asyncio.ensure_future(self.drop_upload())
        super().on_finish()


def upload_room(user, uri, quota):
    """The caller's chat at ``uri`` and, under a ``quota``, what their files take."""
    return member_room(user, uri), 0 if quota is None else Blob.bytes_of(user)


@tornado.web.stream_request_body
class UploadHandler(StreamedBody, BaseHandler):
    """``POST /api/chats/<uri>/uploads/?name=``: one file, in no message yet."""

    async def prepare(self):
        await super().prepare()
        if self.request.method != "POST":
            return
        files = self.files
        self.room, taken = await self.read(
            upload_room, self.require_user(), self.path_kwargs["uri"], files.quota
        )
        self.name = clean_name(self.get_query_argument("name", None))
        limit = files.max_upload
        too_large = f"Files may be at most {files.max_upload / MB:g} MB."
        if files.quota is not None:
            left = files.quota - taken
            if left < limit:
                limit = max(left, 0)
                too_large = (
                    f"This is over your {files.quota / MB:g} MB for files; "
                    "deleting messages with files frees some."
                )
        await self.start_body(limit, too_large)

    async def post(self, uri):
        upload = await self.take_upload()
        stored = await self.files.keep(upload)
        try:
            attachment = await self.writer.run(
                Attachment.upload, self.room, self.current_user, self.name, stored.fields()
            )
        except DiskFull:
            self.files.release(stored.sha256)
            await self.files.remove([stored.sha256])
            raise DiskFull("The server's disk is full; the file was not stored.") from None
        self.files.release(stored.sha256)
        self.send_json(attachment.as_file(), 201)


@tornado.web.stream_request_body
class AvatarHandler(StreamedBody, BaseHandler):
    """``PUT /api/me/avatar/`` a picture; ``DELETE`` it, back to initials."""

    async def prepare(self):
        await super().prepare()
        if self.request.method != "PUT":
            return
        self.require_user()
        await self.start_body(
            MAX_AVATAR_BYTES,
            f"A profile picture may be at most {MAX_AVATAR_BYTES // MB} MB.",
        )

    async def put(self):
        upload = await self.take_upload()
        stored = await self.files.keep_avatar(upload)
        try:
            freed = await self.writer.run(self.current_user.set_avatar, stored.fields())
        finally:
            self.files.release(stored.sha256)
        await self.files.remove(freed)
        self.send_json(self.current_user.private())

    async def delete(self):
        user = self.require_user()
        freed = await self.writer.run(user.set_avatar, None)
        await self.files.remove(freed)
        self.send_json(user.private())


def disposition(kind, name):
    """``inline`` only for what a browser can only show, never run; the name in both
    header forms, the plain one reduced to safe ASCII."""
    plain = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\;' else "_" for ch in name)
    how = "inline" if kind in INLINE_TYPES else "attachment"
    quoted = urllib.parse.quote(name, safe="")
    return f"{how}; filename=\"{plain}\"; filename*=UTF-8''{quoted}"


class ServedFile(Authenticated, JSONErrors, tornado.web.StaticFileHandler):
    """A stored file, with Tornado's ETag, If-None-Match and Range handling; what to
    serve and to whom is decided by ``find``, on every request."""

    # Set by ``find``: the file's path under the uploads folder, its type, its ETag
    # and its Content-Disposition.
    relative = kind = etag = disposition = None

    def initialize(self, messenger, throttle):
        serving.set(True)  # see BaseHandler.initialize
        self.messenger = messenger
        self.root = messenger.files.root

    def set_default_headers(self):
        set_security_headers(self)
        # Even a browser that ignored the disposition runs nothing from here.
        self.set_header("Content-Security-Policy", CONTENT_SECURITY_POLICY + "; sandbox")
        self.set_header("Cache-Control", "no-store")

    async def prepare(self):
        self.current_user = await self.find_caller()

    async def get(self, include_body=True, **route):
        # ``find`` reads who may have the file: through the messenger's reads.
        await self.messenger.reads.run(self.find, **route)
        await super().get(self.relative, include_body)

    async def head(self, **route):
        await self.get(include_body=False, **route)

    def path_of(self, sha256, suffix=""):
        return f"{sha256[:2]}/{sha256}{suffix}"

    def compute_etag(self):
        return self.etag

    def get_content_type(self):
        return self.kind

    def get_cache_time(self, path, modified, mime_type):
        return 0

    def set_extra_headers(self, path):
        self.set_header("Cache-Control", CACHE_FOREVER)
        self.set_header("Content-Disposition", self.disposition)


class FileHandler(ServedFile):
    """``GET /api/files/<id>/<name>`` and ``/api/files/<id>/thumbnail``: to members of
    the chat it was sent in (its uploader alone before it is sent); 404 for anyone
    else, so a file's id says nothing to those who may not have it."""

    # The photo's thumbnail rather than the file.
    thumbnail = False

    def find(self, file_id, name=None):
        user = self.current_user
        attachment = (
            Attachment.select(Attachment, Blob)
            .join(Blob)
            .where(Attachment.id == min(int(file_id), 2**63 - 1))
            .first()
        )
        if (
            user is None
            or attachment is None
            or not (
                user.is_member(attachment.room_id)
                if attachment.message_id is not None
                else attachment.uploader_id == user.id
            )
        ):
            raise APIError(404, NOT_FOUND)
        blob = attachment.blob
        if self.thumbnail:
            if blob.type not in PHOTO_TYPES:
                raise APIError(404, NOT_FOUND)
            self.relative = self.path_of(blob.sha256, ".thumb")
            self.kind, self.etag = "image/jpeg", f'"{blob.sha256}.thumb"'
            self.disposition = disposition("image/jpeg", "thumbnail.jpg")
        else:
            self.relative = self.path_of(blob.sha256)
            self.kind, self.etag = blob.type, f'"{blob.sha256}"'
            self.disposition = disposition(blob.type, attachment.name)


class ThumbnailHandler(FileHandler):
    thumbnail = True


class AvatarFileHandler(ServedFile):
    """``GET /api/avatars/<user id>/<size>.jpg``: anyone logged in sees anyone's."""

    def find(self, user_id, size):
        if self.current_user is None:
            raise APIError(401, {"detail": "Authentication credentials were not provided."})
        person = User.get_or_none(User.id == min(int(user_id), 2**63 - 1))
        blob = None
        if person is not None and person.avatar_id is not None:
            blob = Blob.get_or_none(Blob.id == person.avatar_id)
        if blob is None:
            raise APIError(404, NOT_FOUND)
        suffix = "" if size == "256" else ".64"
        self.relative = self.path_of(blob.sha256, suffix)
        self.kind, self.etag = "image/jpeg", f'"{blob.sha256}{suffix}"'
        self.disposition = disposition("image/jpeg", f"{person.username}-{size}.jpg")


class StorageHandler(AdminHandler):
    """``GET /api/admin/storage/``: the space files take, in all and per person."""

    async def get(self):
        total, count, people = await self.read(Blob.usage)
        self.send_json(
            {
                "total_bytes": total,
                "files": count,
                "people": [
                    {"user": user.public(), "bytes": size, "files": n}
                    for user, size, n in people
                ],
            }
        )
