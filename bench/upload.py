"""Uploads: throughput, the event loop's worst stall meanwhile, and photo memory.

    python bench/upload.py            # 5 uploads of 25 MB and 5 of a 12 MP photo

A real server (``python chatbox.py``) on a loopback port over a temporary data dir.
Each file is sent by curl, a process of its own; meanwhile a websocket client sends a
``ping`` frame every 5 ms and times each ``pong``. The server answers pings on its event
loop, so the slowest pong, less the usual one, is the longest the loop was held up.
The figures for a 12-megapixel photo (decoding it, turning it upright, saving it
clean, the thumbnail) are taken in a fresh process of their own, so its peak resident
memory is the photo's work plus Python and Pillow alone. Loopback only; every loop is
bounded by a count.
"""

import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, ROOT)

from boxes import Box  # noqa: E402
from websockets.asyncio.client import connect  # noqa: E402

MB = 1024 * 1024
SIZE = 25 * MB
RUNS = 5
# How often the probe pings: fine enough to see a stall of a few milliseconds.
PROBE_EVERY = 0.005
# A bound on the probe whatever happens: 60 s of pings.
MAX_PINGS = 12_000


def photo_12mp(path):
    """A 4000 x 3000 JPEG with camera noise (so it compresses like a photo), a
    location and orientation 6, as a phone held upright writes it."""
    from PIL import ExifTags, Image

    noise = Image.effect_noise((4000, 3000), 64).convert("RGB")
    gradient = Image.linear_gradient("L").resize((4000, 3000)).convert("RGB")
    image = Image.blend(noise, gradient, 0.5)
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.IFD.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N"}
    image.save(path, "JPEG", quality=90, exif=exif)


async def probe(url, token, stop, gaps):
    """Ping every PROBE_EVERY seconds until ``stop``; records each round trip."""
    async with connect(
        url.replace("http", "ws", 1) + "/ws",
        additional_headers={"Authorization": f"Token {token}"},
        proxy=None,
    ) as ws:
        await ws.recv()  # hello
        for ref in range(MAX_PINGS):
            if stop.is_set():
                break
            sent = time.perf_counter()
            await ws.send(json.dumps({"type": "ping", "ref": ref}))
            while json.loads(await ws.recv()).get("type") != "pong":
                pass
            gaps.append(time.perf_counter() - sent)
            await asyncio.sleep(PROBE_EVERY)


async def timed_upload(box, token, uri, path, name):
    """Upload ``path`` with curl while the probe runs; (seconds, pongs, answer)."""
    gaps, stop = [], asyncio.Event()
    pinger = asyncio.ensure_future(probe(box.url, token, stop, gaps))
    await asyncio.sleep(0.5)  # the probe's usual round trip, before the upload
    quiet = len(gaps)
    curl = await asyncio.create_subprocess_exec(
        "curl", "-sS", "--max-time", "120", "-H", f"Authorization: Token {token}",
        "-H", "Content-Type: application/octet-stream", "--data-binary", f"@{path}",
        "-w", "\n%{time_total}", f"{box.url}/api/chats/{uri}/uploads/?name={name}",
        stdout=subprocess.PIPE,
    )  # fmt: skip
    out, _ = await curl.communicate()
    await asyncio.sleep(0.3)
    stop.set()
    await pinger
    body, seconds = out.decode().rsplit("\n", 1)
    return float(seconds), gaps[:quiet], gaps[quiet:], json.loads(body)


def photo_memory(path):
    """Peak RSS (MiB) and seconds of cleaning a photo, and of Python + Pillow alone."""
    script = (
        "import sys, time; sys.path.insert(0, {root!r}); import files;"
        "t = time.perf_counter(); {work}; s = time.perf_counter() - t;"
        "print(s, [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1])"
    )
    results = []
    for work in ("pass", f"files.clean_photo({path!r}, 'image/jpeg')"):
        out = subprocess.run(
            [sys.executable, "-c", script.format(root=ROOT, work=work)],
            capture_output=True, text=True, check=True, timeout=120,
        ).stdout.split()  # fmt: skip
        results.append((float(out[0]), int(out[1]) / 1024))
    return results


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


async def main():
    with tempfile.TemporaryDirectory() as tmp:
        box = Box(os.path.join(tmp, "box"), "--logging=warning", "--max-upload-mb=30")
        box.start()
        try:
            token = box.signup("bench")
            status, chat, _ = box.call("POST", "/api/chats/", {}, token=token)
            uri = chat["uri"]
            photo = os.path.join(tmp, "photo.jpg")
            photo_12mp(photo)
            rows = []
            for run in range(RUNS):
                path = os.path.join(tmp, f"big{run}.bin")
                with open(path, "wb") as f:
                    f.write(random.randbytes(SIZE))
                rows.append(
                    (
                        "25 MB file",
                        SIZE,
                        *await timed_upload(box, token, uri, path, "big.bin"),
                    )
                )
            for run in range(RUNS):
                timed = await timed_upload(box, token, uri, photo, f"p{run}.jpg")
                rows.append(("12 MP photo", os.path.getsize(photo), *timed))
            with open(f"/proc/{box.proc.pid}/status") as f:
                hwm = next(line for line in f if line.startswith("VmHWM")).split()[1]
        finally:
            box.close()
        heads = (
            "size",
            "seconds",
            "MB/s",
            "pong usual",
            "worst idle",
            "pong worst",
            "stall",
        )
        print(f"{'upload':<12}", *(f"{h:>11}" for h in heads))
        for what, size, seconds, quiet, busy, answer in rows:
            usual = sorted(quiet)[len(quiet) // 2]
            worst = max(busy)
            print(
                f"{what:<12} {size / MB:>9.1f}MB {seconds:>11.2f} {size / MB / seconds:>11.1f}"
                f" {ms(usual):>11} {ms(max(quiet)):>11} {ms(worst):>11}"
                f" {ms(worst - usual):>11}"
                f"  ({len(busy)} pings; stored {answer['size'] / MB:.1f} MB {answer['type']})"
            )
        print(f"server peak RSS over the run: {int(hwm) / 1024:.0f} MiB")
        (base_s, base_rss), (work_s, work_rss) = photo_memory(photo)
        print(
            f"12 MP photo cleaned and thumbnailed in a fresh process: {work_s:.2f} s,"
            f" peak RSS {work_rss:.0f} MiB (Python + Pillow alone: {base_rss:.0f} MiB;"
            f" the photo's work: {work_rss - base_rss:.0f} MiB)"
        )


if __name__ == "__main__":
    asyncio.run(main())
