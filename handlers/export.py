"""A chat's history as a download: ``export.json`` and ``export.html`` (docs/files.md)."""

import export
from handlers.base import BaseHandler

CONTENT_TYPES = {
    "json": "application/json; charset=UTF-8",
    "html": "text/html; charset=UTF-8",
}


class ExportHandler(BaseHandler):
    async def get(self, uri):
        extension = self.request.path.rsplit(".", 1)[1]
        await self.pay("reads", self.require_user().id)
        room = await self.member_room(uri)
        if extension == "json":
            chunks = export.json_chunks(room)
        else:
            chunks = export.html_chunks(room, self.settings.get("uploads"))
        self.set_header("Content-Type", CONTENT_TYPES[extension])
        # A download, never a page of the box's origin: the file is meant to be kept.
        self.set_header(
            "Content-Disposition",
            f'attachment; filename="{export.file_name(room, extension)}"',
        )
        # One chunk of messages at a time, each read through ``read``: the event loop
        # serves others between them, and a long history is never in memory at once.
        while (chunk := await self.read(next, chunks, None)) is not None:
            self.write(chunk)
            await self.flush()
        self.finish()
