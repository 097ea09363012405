// Byte counts as people read them. Powers of 1024, as file managers on the machines
// people copy these files from show them, with one decimal below ten units.
const UNITS = ['KB', 'MB', 'GB', 'TB']

export function formatBytes(bytes) {
  const n = Number(bytes)
  if (!Number.isFinite(n) || n < 0) return ''
  if (n < 1024) return `${Math.round(n)} B`
  let value = n
  let unit = -1
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit += 1
  }
  // 9.96 rounds to "10.0": past nine and a half the decimal says nothing.
  const shown = value < 9.95 ? value.toFixed(1).replace(/\.0$/, '') : String(Math.round(value))
  return `${shown} ${UNITS[unit]}`
}
