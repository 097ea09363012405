// Dates in the reader's chosen language and own time zone, through the browser's Intl.
import { formatLocale } from '../i18n.js'

// Formatters are costly to build and a list formats hundreds of dates: one per locale.
const formatters = new Map()
function formatter(kind, options, Format = Intl.DateTimeFormat) {
  const locale = formatLocale()
  const key = `${kind}\n${locale}`
  if (!formatters.has(key)) formatters.set(key, new Format(locale, options))
  return formatters.get(key)
}

function capitalise(text) {
  return text.charAt(0).toLocaleUpperCase() + text.slice(1)
}

export function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth()}-${date.getDate()}`
}

function startOfDay(date) {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate())
}

export function dayLabel(date, now = new Date()) {
  const days = Math.round((startOfDay(date) - startOfDay(now)) / 86400000)
  if (days === 0 || days === -1) {
    const relative = formatter('relative', { numeric: 'auto' }, Intl.RelativeTimeFormat)
    return capitalise(relative.format(days, 'day'))
  }
  const sameYear = date.getFullYear() === now.getFullYear()
  const options = { weekday: 'long', day: 'numeric', month: 'long' }
  if (!sameYear) options.year = 'numeric'
  return formatter(sameYear ? 'day' : 'dayYear', options).format(date)
}

export function timeLabel(date) {
  return formatter('time', { hour: 'numeric', minute: '2-digit' }).format(date)
}

export function fullLabel(date) {
  return date.toLocaleString(formatLocale())
}
