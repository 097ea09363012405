// Searching messages (docs/files.md, "Search"): what the person asked for, kept in the
// search page's address so that a reload or the back button finds the same results, and
// turned into the query of GET /api/search/. The server matches each word as a prefix,
// so the words go as typed.
import { shownName } from './names.js'

// The filters a search can carry, as the page holds them. Dates are the values of
// <input type=date> ("2024-05-03"), in the reader's own calendar.
export function emptySearch() {
  return { q: '', chat: '', from: '', since: '', until: '', hasFile: false }
}

const DATE = /^\d{4}-\d{2}-\d{2}$/

function text(value) {
  return typeof value === 'string' ? value : ''
}

// The filters an address's query names (route.query), anything malformed left out.
export function searchFromQuery(query = {}) {
  return {
    q: text(query.q),
    chat: text(query.chat),
    from: text(query.from),
    since: DATE.test(query.since) ? query.since : '',
    until: DATE.test(query.until) ? query.until : '',
    hasFile: query.has === 'file',
  }
}

// The search page's address for these filters; empty ones are left out.
export function searchPath(search) {
  const query = new URLSearchParams()
  if (search.q.trim()) query.set('q', search.q.trim())
  if (search.chat) query.set('chat', search.chat)
  if (search.from) query.set('from', search.from)
  if (search.since) query.set('since', search.since)
  if (search.until) query.set('until', search.until)
  if (search.hasFile) query.set('has', 'file')
  const text = query.toString()
  return text ? `/search?${text}` : '/search'
}

// Whether there is anything to ask the server: words to look for.
export function canSearch(search) {
  return search.q.trim().length > 0
}

// The day after an <input type=date> value, in the same form: "To date" includes the
// whole of its day, so the range ends where the next day starts.
export function dayAfter(date) {
  const [year, month, day] = date.split('-').map(Number)
  const next = new Date(Date.UTC(year, month - 1, day + 1))
  return next.toISOString().slice(0, 10)
}

// The moment a day of the reader's calendar starts, as an ISO date and time in UTC: the
// server compares in UTC, and a day here is not a day in Greenwich.
export function startOf(date) {
  const [year, month, day] = date.split('-').map(Number)
  return new Date(year, month - 1, day).toISOString()
}

// The query string of GET /api/search/ for these filters, one page of `limit`
// results, after `cursor` (the `next` of the page before) if given.
export function searchParams(search, { limit, cursor } = {}) {
  const query = new URLSearchParams({ q: search.q.trim() })
  if (search.chat) query.set('chat', search.chat)
  if (search.from) query.set('from', search.from)
  if (search.since) query.set('after', startOf(search.since))
  if (search.until) query.set('before', startOf(dayAfter(search.until)))
  if (search.hasFile) query.set('has', 'file')
  if (limit) query.set('limit', String(limit))
  if (cursor) query.set('cursor', cursor)
  return query
}

// A result's snippet as pieces to draw, each shown as text and the matched ones marked.
// Neighbouring pieces of the same kind are joined, empty ones dropped; a result without
// a usable snippet shows its message's text unmarked.
export function snippetParts(result) {
  const parts = []
  const pieces = Array.isArray(result?.snippet) ? result.snippet : []
  for (const piece of pieces) {
    if (typeof piece?.text !== 'string' || !piece.text) continue
    const match = piece.match === true
    const last = parts[parts.length - 1]
    if (last && last.match === match) last.text += piece.text
    else parts.push({ text: piece.text, match })
  }
  if (parts.length) return parts
  const whole = text(result?.message?.message)
  return whole ? [{ text: whole, match: false }] : []
}

// Moving through a list of results with the keyboard: the index the key leads to from
// `current` (-1 when none has focus), or null for a key that does not move.
export function stepThrough(current, key, count) {
  if (count === 0) return null
  switch (key) {
    case 'ArrowDown':
      return current < 0 ? 0 : Math.min(current + 1, count - 1)
    case 'ArrowUp':
      return current <= 0 ? 0 : current - 1
    case 'Home':
      return 0
    case 'End':
      return count - 1
    default:
      return null
  }
}

// Everyone the person filter offers: the people of the user's chats that the tab knows
// of (each chat's member preview, the full member lists it has loaded, the owners and
// the other person of direct chats), each once, by the name shown.
export function peopleIn(rooms, details = {}, me = null) {
  const known = new Map()
  const note = (user) => {
    if (user && typeof user.username === 'string' && !known.has(user.username)) {
      known.set(user.username, user)
    }
  }
  note(me)
  for (const room of rooms) {
    note(room.owner)
    note(room.direct_with)
    for (const member of room.members || []) note(member)
  }
  for (const detail of Object.values(details)) {
    for (const member of detail?.members || []) note(member)
  }
  return [...known.values()].sort(
    (a, b) => shownName(a).localeCompare(shownName(b)) || a.username.localeCompare(b.username),
  )
}
