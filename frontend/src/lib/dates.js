// Dates in the reader's own language and time zone, through the browser's Intl.
const timeFormat = new Intl.DateTimeFormat(undefined, { hour: 'numeric', minute: '2-digit' })
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' })

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
  if (days === 0 || days === -1) return capitalise(relative.format(days, 'day'))
  const options = { weekday: 'long', day: 'numeric', month: 'long' }
  if (date.getFullYear() !== now.getFullYear()) options.year = 'numeric'
  return new Intl.DateTimeFormat(undefined, options).format(date)
}

export function timeLabel(date) {
  return timeFormat.format(date)
}

export function fullLabel(date) {
  return date.toLocaleString()
}
