// Byte counts as people read them. Powers of 1024, as file managers on the machines
// people copy these files from show them, with one decimal below ten units.
// The units' names are in the catalogue (French says "Ko", "Mo"), numbers in the locale.
import { formatLocale, t } from '../i18n.js'
const UNITS = ['kb', 'mb', 'gb', 'tb']

export function formatBytes(bytes) {
  const n = Number(bytes)
  if (!Number.isFinite(n) || n < 0) return ''
  if (n < 1024) return t('sizes.b', { size: Math.round(n) })
  let value = n
  let unit = -1
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024
    unit += 1
  }
  // 9.96 rounds to "10.0": past nine and a half the decimal says nothing.
  const digits = value < 9.95 ? 1 : 0
  const shown = new Intl.NumberFormat(formatLocale(), {
    maximumFractionDigits: digits,
    useGrouping: false,
  }).format(digits ? Number(value.toFixed(1)) : Math.round(value))
  return t(`sizes.${UNITS[unit]}`, { size: shown })
}
