// Writes public/ding.wav: a short two-tone chime, generated so the box needs no
// downloaded sound. Deterministic: the same bytes on every run.
import { writeFileSync } from 'node:fs'

const rate = 22050
const seconds = 0.45
const samples = Math.round(rate * seconds)
const data = Buffer.alloc(samples * 2)
for (let i = 0; i < samples; i++) {
  const t = i / rate
  // Two partials a fifth apart, with a fast attack and an exponential fade.
  const envelope = Math.min(1, t / 0.005) * Math.exp(-t * 9)
  const tone = 0.6 * Math.sin(2 * Math.PI * 880 * t) + 0.3 * Math.sin(2 * Math.PI * 1320 * t)
  data.writeInt16LE(Math.round(tone * envelope * 0.5 * 32767), i * 2)
}
const header = Buffer.alloc(44)
header.write('RIFF', 0)
header.writeUInt32LE(36 + data.length, 4)
header.write('WAVE', 8)
header.write('fmt ', 12)
header.writeUInt32LE(16, 16)
header.writeUInt16LE(1, 20) // PCM
header.writeUInt16LE(1, 22) // mono
header.writeUInt32LE(rate, 24)
header.writeUInt32LE(rate * 2, 28)
header.writeUInt16LE(2, 32)
header.writeUInt16LE(16, 34)
header.write('data', 36)
header.writeUInt32LE(data.length, 40)
writeFileSync(new URL('../public/ding.wav', import.meta.url), Buffer.concat([header, data]))
