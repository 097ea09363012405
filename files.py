"""Files on disk: uploads streamed to a temporary file, photos cleaned, all stored by
content under ``<data-dir>/uploads/``.

A file is kept as ``uploads/<aa>/<sha256>``, named by the SHA-256 of the bytes stored
(for a photo, its cleaned copy), so the same bytes are one file however often they
are shared. Beside it, ``<sha256>.thumb`` (a photo's thumbnail) or ``<sha256>.64`` (a
profile picture's small size). Everything that touches the disk runs on threads of
its own, and photos are decoded in a process of their own: never on the event loop.
The database rows that refer to the files are models.Blob and models.Attachment.
"""

import asyncio
import errno
import hashlib
import io
import logging
import multiprocessing
import os
import struct
import tempfile
import time
import unicodedata
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from models import PHOTO_TYPES, Attachment, Blob, ValidationError
from writer import DiskFull

log = logging.getLogger("chatbox.files")

MB = 1024 * 1024
# The long side of a thumbnail: sharp on a phone's message list at 2x, a few tens of
# kilobytes as a JPEG.
THUMBNAIL_SIZE = 480
THUMBNAIL_QUALITY = 80
AVATAR_SIZES = (256, 64)
AVATAR_QUALITY = 85
# A still JPEG or WebP is re-encoded when it is cleaned; this is what WebP gets (JPEG
# keeps its own quantisation tables, so its quality stays what the camera chose).
WEBP_QUALITY = 90
# The largest photo decoded: 50 megapixels take 150 MB as RGB, twice that while being
# turned upright, which a Pi 3 (1 GB) can still spare for one photo at a time. Phones
# take 12 to 48. Bigger is refused rather than stored with its metadata uncleaned.
MAX_PIXELS = 50_000_000
MAX_AVATAR_BYTES = 10 * MB
MAX_NAME = 255
# Uploads not claimed by a message within this long are removed.
UNCLAIMED_TTL = 24 * 3600
# How often the removal runs: an hour late is no matter for a day-old upload.
SWEEP_INTERVAL = 3600
# Leftover temporary files older than this belong to no upload still running (a body
# may take at most a few minutes to arrive).
STALE_TEMP = 6 * 3600

NOT_A_PHOTO = "This file looks like a photo but cannot be read as one."
PHOTO_FAILED = "This photo could not be processed; try a smaller one."


def photo_worker():
    """Where photos are decoded and encoded: a process of its own, one photo at a time.

    Parts of Pillow's work hold the GIL, which from a thread held the event loop for
    15 to 80 ms per 12 MP photo. In a process it holds nothing of the server's, and if a
    huge photo exhausts a small box's memory, the kernel's OOM killer takes the worker,
    not the server. Started ("spawn": never a fork of a threaded server) on first use.
    """
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


class FileTooLarge(Exception):
    """Over the size limit or the person's quota; the message says which."""

    def __init__(self, detail):
        super().__init__(detail)
        self.detail = detail


def disk_full():
    return DiskFull("The server's disk is full; the file was not stored.")


def clean_name(name):
    """The file name as given, made safe to show and to send back in a header: the last
    part of a path, Unicode composed, without invisible or control characters."""
    if not isinstance(name, str):
        raise ValidationError({"name": ["Give the file's name as ?name=."]})
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(
        ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Zl", "Zp", "Cs")
    ).strip()
    if not name or name in (".", "..") or len(name) > MAX_NAME:
        raise ValidationError(
            {"name": [f"Give the file's name as ?name= (1 to {MAX_NAME} characters)."]}
        )
    return name


def sniff(head):
    """The type of a file from its first bytes, never from its name or a client's
    claim. Anything not recognised (HTML and SVG included) is octet-stream."""
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"ID3") or (
        len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06
    ):
        return "audio/mpeg"
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        return "audio/mp4" if brand in (b"M4A ", b"M4B ") else "video/mp4"
    if head.startswith(b"\x1a\x45\xdf\xa3") and b"webm" in head[:64]:
        return "video/webm"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04"):
        return "application/zip"
    return "application/octet-stream"


# --- Metadata removal that does not re-encode: PNG chunks, GIF blocks, WebP chunks ---

# PNG chunks that draw the picture or say how to colour it; text, time, EXIF and every
# private chunk (where metadata could hide) are dropped.
PNG_KEEP = frozenset(
    b"IHDR PLTE IDAT IEND tRNS gAMA cHRM sRGB iCCP sBIT pHYs bKGD acTL fcTL fdAT".split()
)


def clean_png(data):
    out = [data[:8]]
    pos = 8
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise ValueError("truncated PNG chunk")
        if kind in PNG_KEEP:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            break
    return b"".join(out)


def _gif_sub_blocks(data, pos):
    """The end of the run of sub-blocks starting at ``pos``."""
    while True:
        size = data[pos]
        pos += 1 + size
        if size == 0:
            return pos


def clean_gif(data):
    """Drop comment blocks and every application block but the one that loops."""
    flags = data[10]
    pos = 13 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
    out = [data[:pos]]
    while pos < len(data):
        kind = data[pos]
        if kind == 0x3B:  # trailer
            out.append(b"\x3b")
            break
        if kind == 0x2C:  # an image: descriptor, colour table, LZW data
            flags = data[pos + 9]
            start = pos
            pos += 10 + (3 * 2 ** ((flags & 7) + 1) if flags & 0x80 else 0)
            pos = _gif_sub_blocks(data, pos + 1)
            out.append(data[start:pos])
        elif kind == 0x21:
            label = data[pos + 1]
            start = pos
            pos = _gif_sub_blocks(data, pos + 2)
            block = data[start:pos]
            if label in (0xF9, 0x01) or (
                label == 0xFF and block[3:14] in (b"NETSCAPE2.0", b"ANIMEXTS1.0")
            ):
                out.append(block)
        else:
            raise ValueError("unexpected GIF block")
    return b"".join(out)


def clean_webp(data):
    """Drop the EXIF and XMP chunks of a WebP and the flags that announce them."""
    chunks = []
    pos = 12
    while pos + 8 <= len(data):
        kind = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        end = pos + 8 + size + (size & 1)
        if kind not in (b"EXIF", b"XMP "):
            chunk = bytearray(data[pos:end])
            if kind == b"VP8X":
                chunk[8] &= ~0x0C & 0xFF  # the EXIF and XMP flags
            chunks.append(bytes(chunk))
        pos = end
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


# --- Photos ---------------------------------------------------------------------------


def _open_photo(path):
    try:
        image = Image.open(path)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        raise ValidationError({"file": [NOT_A_PHOTO]}) from None
    if image.width * image.height > MAX_PIXELS:
        image.close()
        raise ValidationError(
            {"file": [f"Photos may have at most {MAX_PIXELS // 1_000_000} megapixels."]}
        )
    return image


def _thumbnail(image, size):
    """A JPEG of ``image`` at most ``size`` px on its long side; changes ``image``."""
    image.thumbnail((size, size))
    return _as_jpeg(image, THUMBNAIL_QUALITY)


def _as_jpeg(image, quality):
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        # Transparent parts on white, as a chat's light background shows them.
        ground = Image.new("RGB", image.size, "white")
        ground.paste(image, mask=image.getchannel("A"))
        image = ground
    elif image.mode != "RGB":
        image = image.convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return out.getvalue()


def clean_photo(path, kind):
    """``(cleaned bytes, width, height, thumbnail JPEG)`` of the photo at ``path``.

    A JPEG or still WebP is turned upright by its EXIF orientation and saved again
    with nothing but its pixels and colour profile; PNG, GIF and animated WebP keep
    their pixels untouched and lose their metadata blocks. Raises ValidationError if
    the bytes do not decode as the photo they claim to be.
    """
    try:
        with _open_photo(path) as image:
            animated = getattr(image, "n_frames", 1) > 1
            if kind == "image/jpeg" or (kind == "image/webp" and not animated):
                icc = image.info.get("icc_profile")
                options = {"icc_profile": icc} if icc else {}
                if kind == "image/jpeg":
                    # The camera's own tables: the copy's quality is the original's.
                    options["qtables"] = image.quantization
                    sampling = JpegImagePlugin.get_sampling(image)
                    if sampling >= 0:
                        options["subsampling"] = sampling
                else:
                    options["quality"] = WEBP_QUALITY
                upright = ImageOps.exif_transpose(image)
                # Comments, XMP and EXIF ride along in ``info``: none may be saved.
                upright.info = {}
                out = io.BytesIO()
                upright.save(out, "JPEG" if kind == "image/jpeg" else "WEBP", **options)
                data = out.getvalue()
            else:
                image.load()
                upright = image.copy()
                with open(path, "rb") as f:
                    raw = f.read()
                cleaner = {"image/png": clean_png, "image/gif": clean_gif}.get(
                    kind, clean_webp
                )
                data = cleaner(raw)
            width, height = upright.size
            thumbnail = _thumbnail(upright, THUMBNAIL_SIZE)
    except ValidationError:
        raise
    except (OSError, ValueError, IndexError, struct.error, SyntaxError, EOFError):
        # Pillow reports a damaged image in many ways; all mean the same to the sender.
        raise ValidationError({"file": [NOT_A_PHOTO]}) from None
    return data, width, height, thumbnail


def avatar_images(path):
    """The 256 and 64 px squares (JPEG) of the photo at ``path``: upright, centred."""
    with _open_photo(path) as image:
        try:
            image.draft("RGB", (AVATAR_SIZES[0] * 2, AVATAR_SIZES[0] * 2))
            upright = ImageOps.exif_transpose(image)
            side = min(upright.size)
            left = (upright.width - side) // 2
            top = (upright.height - side) // 2
            square = upright.crop((left, top, left + side, top + side))
            return [
                _as_jpeg(square.resize((size, size), Image.LANCZOS), AVATAR_QUALITY)
                for size in AVATAR_SIZES
            ]
        except (OSError, ValueError, SyntaxError, EOFError):
            raise ValidationError({"file": [NOT_A_PHOTO]}) from None


class Upload:
    """One body being received: a temporary file and the hash of what came so far."""

    def __init__(self, path, fd):
        self.path = path
        self.file = os.fdopen(fd, "wb")
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, chunk):
        self.file.write(chunk)
        self.hash.update(chunk)
        self.size += len(chunk)

    def close(self):
        if not self.file.closed:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()

    def discard(self):
        try:
            self.file.close()
        except OSError:
            pass
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass


class Stored:
    """What a finished upload became on disk: the fields of its ``Blob``."""

    def __init__(self, sha256, size, type, width=None, height=None):
        self.sha256, self.size, self.type = sha256, size, type
        self.width, self.height = width, height

    def fields(self):
        return {
            "sha256": self.sha256,
            "size": self.size,
            "type": self.type,
            "width": self.width,
            "height": self.height,
        }


def _sha256(data):
    return hashlib.sha256(data).hexdigest()


def _raise_disk_full(exc):
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        raise disk_full() from None
    raise exc


class Storage:
    """The uploads folder and the workers that work on it.

    ``max_upload`` and ``quota`` are bytes (``quota`` None for none). Writing and
    hashing go to I/O threads, photos to one worker process (``photo_worker``), so that
    however many photos arrive at once, one is in memory at a time.
    """

    def __init__(self, root, max_upload=25 * MB, quota=None):
        self.root = os.path.abspath(root)
        self.tmp = os.path.join(self.root, "tmp")
        os.makedirs(self.tmp, mode=0o700, exist_ok=True)
        self.max_upload = max_upload
        self.quota = quota
        self._io = ThreadPoolExecutor(2, thread_name_prefix="chatbox-files")
        self._images = photo_worker()
        # Files being placed by an upload in progress, which a removal must not take
        # even when no row refers to them yet (or any more).
        self._placing = {}

    # --- paths

    def path(self, sha256):
        return os.path.join(self.root, sha256[:2], sha256)

    def thumbnail_path(self, sha256):
        return self.path(sha256) + ".thumb"

    def small_path(self, sha256):
        return self.path(sha256) + ".64"

    # --- threads

    async def _run(self, executor, fn, *args):
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
        except BrokenProcessPool:
            # The photo worker died (out of memory, most likely): a new one for the
            # next photo, and a clear refusal for this one.
            log.error("the photo worker stopped while processing a photo")
            self._images = photo_worker()
            raise ValidationError({"file": [PHOTO_FAILED]}) from None

    async def begin(self):
        """A new temporary file for a body about to arrive."""

        def make():
            try:
                fd, path = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
            except OSError as exc:
                _raise_disk_full(exc)
            return Upload(path, fd)

        return await self._run(self._io, make)

    async def write(self, upload, chunk):
        def write():
            try:
                upload.write(chunk)
            except OSError as exc:
                upload.discard()
                _raise_disk_full(exc)

        await self._run(self._io, write)

    async def discard(self, upload):
        await self._run(self._io, upload.discard)

    # --- finishing uploads

    async def keep(self, upload):
        """Store a complete upload by its content; returns ``Stored``. The temporary
        file is gone afterwards, whatever happens. Call ``release`` with the hash once
        its row is committed."""
        try:
            await self._run(self._io, upload.close)
            with open(upload.path, "rb") as f:
                kind = sniff(f.read(64))
            if kind in PHOTO_TYPES:
                data, width, height, thumbnail = await self._run(
                    self._images, clean_photo, upload.path, kind
                )
                # Megabytes to hash: not on the event loop.
                sha = await self._run(self._io, _sha256, data)
                self._pin(sha)
                await self._run(
                    self._io, self._place_bytes, sha, data, {".thumb": thumbnail}
                )
                return Stored(sha, len(data), kind, width, height)
            sha = upload.hash.hexdigest()
            self._pin(sha)
            await self._run(self._io, self._place_file, sha, upload.path)
            return Stored(sha, upload.size, kind)
        except OSError as exc:
            _raise_disk_full(exc)
        finally:
            await self._run(self._io, upload.discard)

    async def keep_avatar(self, upload):
        """Store a profile picture's two sizes; returns ``Stored`` for the 256 px one."""
        try:
            await self._run(self._io, upload.close)
            with open(upload.path, "rb") as f:
                kind = sniff(f.read(64))
            if kind not in PHOTO_TYPES:
                raise ValidationError(
                    {"file": ["A profile picture must be a JPEG, PNG, WebP or GIF."]}
                )
            large, small = await self._run(self._images, avatar_images, upload.path)
            sha = await self._run(self._io, _sha256, large)
            self._pin(sha)
            await self._run(self._io, self._place_bytes, sha, large, {".64": small})
            return Stored(sha, len(large), "image/jpeg", *[AVATAR_SIZES[0]] * 2)
        except OSError as exc:
            _raise_disk_full(exc)
        finally:
            await self._run(self._io, upload.discard)

    def _pin(self, sha):
        self._placing[sha] = self._placing.get(sha, 0) + 1

    def release(self, sha):
        """The upload placing ``sha`` has committed its row (or given up)."""
        left = self._placing.get(sha, 0) - 1
        if left > 0:
            self._placing[sha] = left
        else:
            self._placing.pop(sha, None)

    def _write_new(self, path, data):
        """Write ``path`` whole or not at all: a temporary file, synced, renamed."""
        fd, tmp = tempfile.mkstemp(dir=self.tmp, prefix="place-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def _place_bytes(self, sha, data, extras):
        path = self.path(sha)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        for suffix, extra in extras.items():
            self._write_new(path + suffix, extra)
        if not os.path.exists(path):
            self._write_new(path, data)
        self._sync_dir(os.path.dirname(path))

    def _place_file(self, sha, temp):
        path = self.path(sha)
        if os.path.exists(path):
            return  # the same bytes are there already
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        try:
            os.link(temp, path)
        except FileExistsError:
            return
        except OSError:
            os.replace(temp, path)  # a filesystem without hard links
        self._sync_dir(os.path.dirname(path))

    @staticmethod
    def _sync_dir(path):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # --- removal

    async def remove(self, shas):
        """Delete the files of blobs whose rows are gone (after their commit)."""
        shas = [sha for sha in shas if sha not in self._placing]
        if shas:
            await self._run(self._io, self._remove, shas)

    def _remove(self, shas):
        for sha in shas:
            if sha in self._placing or Blob.select().where(Blob.sha256 == sha).exists():
                continue  # uploaded again meanwhile
            for path in (self.path(sha), self.thumbnail_path(sha), self.small_path(sha)):
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass

    async def sweep(self, writer, now=None):
        """Remove uploads no message claimed within a day, and their files once nothing
        refers to them; also temporary files an interrupted process left. Returns how
        many uploads were removed."""
        now = time.time() if now is None else now
        removed, shas = await writer.run(Attachment.sweep, now - UNCLAIMED_TTL)
        await self.remove(shas)
        await self._run(self._io, self._sweep_temp, now - STALE_TEMP)
        if removed:
            log.info("removed %d upload(s) no message claimed within a day", removed)
        return removed

    def _sweep_temp(self, before):
        for entry in os.scandir(self.tmp):
            try:
                if entry.stat().st_mtime < before:
                    os.unlink(entry.path)
            except FileNotFoundError:
                pass

    def close(self):
        self._io.shutdown(wait=True)
        self._images.shutdown(wait=True)
