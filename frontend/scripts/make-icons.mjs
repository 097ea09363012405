// Writes the app's icons into public/icons/: the shapes of public/favicon.svg (a blue
// rounded square with a white speech bubble) drawn at the sizes a home screen wants,
// without any drawing library. Deterministic: the same bytes on every run.
import { mkdirSync, writeFileSync } from 'node:fs'
import { deflateSync } from 'node:zlib'

const BLUE = [0x25, 0x63, 0xeb]
const WHITE = [0xff, 0xff, 0xff]
const SAMPLES = 4 // per side of a pixel, for smooth edges

// Whether (x, y) lies in the rounded rectangle from (x0, y0) to (x1, y1).
function inRoundedRect(x, y, x0, y0, x1, y1, r) {
  if (x < x0 || x > x1 || y < y0 || y > y1) return false
  const cx = Math.min(Math.max(x, x0 + r), x1 - r)
  const cy = Math.min(Math.max(y, y0 + r), y1 - r)
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r
}

// The bubble's tail: the triangle (15, 22), (10, 26), (10, 22) of the favicon's path.
function inTail(x, y) {
  return x >= 10 && y >= 22 && y <= 26 && (x - 10) * 4 + (y - 22) * 5 <= 20
}

function inBubble(x, y) {
  return inRoundedRect(x, y, 6, 10, 26, 22, 2) || inTail(x, y)
}

// The colour at a point of the favicon's 32×32 square: `full` fills the whole square
// (a maskable icon, which the system crops to its own shape) and draws the bubble
// smaller, inside the part every crop keeps.
function colourAt(x, y, full) {
  if (full) {
    const scale = 0.75
    const bx = 16 + (x - 16) / scale
    const by = 16 + (y - 16) / scale
    return inBubble(bx, by) ? WHITE : BLUE
  }
  if (!inRoundedRect(x, y, 0, 0, 32, 32, 8)) return null
  return inBubble(x, y) ? WHITE : BLUE
}

function pixels(size, full) {
  const rgba = Buffer.alloc(size * size * 4)
  const unit = 32 / size
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let r = 0
      let g = 0
      let b = 0
      let covered = 0
      for (let sy = 0; sy < SAMPLES; sy++) {
        for (let sx = 0; sx < SAMPLES; sx++) {
          const c = colourAt(
            (px + (sx + 0.5) / SAMPLES) * unit,
            (py + (sy + 0.5) / SAMPLES) * unit,
            full,
          )
          if (!c) continue
          r += c[0]
          g += c[1]
          b += c[2]
          covered++
        }
      }
      const at = (py * size + px) * 4
      if (covered) {
        rgba[at] = Math.round(r / covered)
        rgba[at + 1] = Math.round(g / covered)
        rgba[at + 2] = Math.round(b / covered)
      }
      rgba[at + 3] = Math.round((255 * covered) / SAMPLES ** 2)
    }
  }
  return rgba
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(bytes) {
  let c = 0xffffffff
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

function chunk(type, data) {
  const head = Buffer.alloc(8)
  head.writeUInt32BE(data.length, 0)
  head.write(type, 4, 'ascii')
  const tail = Buffer.alloc(4)
  tail.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0)
  return Buffer.concat([head, data, tail])
}

function png(size, full) {
  const rgba = pixels(size, full)
  const rows = Buffer.alloc(size * (size * 4 + 1))
  for (let y = 0; y < size; y++) {
    // Each row starts with its filter type: 0, none.
    rgba.copy(rows, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4)
  }
  const header = Buffer.alloc(13)
  header.writeUInt32BE(size, 0)
  header.writeUInt32BE(size, 4)
  header[8] = 8 // bits per channel
  header[9] = 6 // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ])
}

const folder = new URL('../public/icons/', import.meta.url)
mkdirSync(folder, { recursive: true })
writeFileSync(new URL('icon-192.png', folder), png(192, false))
writeFileSync(new URL('icon-512.png', folder), png(512, false))
writeFileSync(new URL('icon-maskable-512.png', folder), png(512, true))
// iOS rounds a home screen icon's corners itself and shows transparency as black.
writeFileSync(new URL('apple-touch-icon.png', folder), png(180, true))
