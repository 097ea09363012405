// @mentions: finding the one being typed in the composer, offering members for it, and
// splitting a message's text into text, link and mention pieces for the template. The
// server finds mentions and gives them as `{user, start, length}` in UTF-16 code units
// (JavaScript string indices), so the text is never searched for names here: a
// mention shows the person's current name even after they were renamed.
import { linkify } from './linkify.js'
import { shownName } from './names.js'

// The characters of a username (the server's rule); an @ only starts a mention after
// anything else.
const NAME_CHAR = /[A-Za-z0-9_.-]/

// How many suggestions the composer's list offers at most.
export const MAX_SUGGESTIONS = 8

// The mention being typed just before the caret: `{start, query}` (start is the index
// of its @), or null when the caret is not in one.
export function mentionAt(text, caret) {
  let at = caret
  while (at > 0 && NAME_CHAR.test(text[at - 1])) at -= 1
  if (at === 0 || text[at - 1] !== '@') return null
  const start = at - 1
  if (start > 0 && NAME_CHAR.test(text[start - 1])) return null
  return { start, query: text.slice(at, caret) }
}

// Members whose username or display name matches what was typed: those starting with
// it first, then those containing it, each group by username. I am not offered.
export function suggestMembers(members, query, meId, limit = MAX_SUGGESTIONS) {
  const q = query.toLowerCase()
  const scored = []
  for (const member of members) {
    if (!member || member.id === meId) continue
    const names = [member.username, member.display_name || ''].map((n) => n.toLowerCase())
    let rank = null
    if (names.some((n) => n.startsWith(q))) rank = 0
    else if (names.some((n) => n.includes(q))) rank = 1
    if (rank !== null) scored.push({ rank, member })
  }
  scored.sort((a, b) => a.rank - b.rank || a.member.username.localeCompare(b.member.username, 'en'))
  return scored.slice(0, limit).map((s) => s.member)
}

// The text with the mention being typed (from `start` to the caret) replaced by the
// picked username and a space, and where the caret goes after it.
export function insertMention(text, start, caret, username) {
  const inserted = `@${username} `
  let rest = text.slice(caret)
  // The name typed so far may go on after the caret ("@al|ice"): it is replaced too.
  while (rest && NAME_CHAR.test(rest[0])) rest = rest.slice(1)
  if (rest.startsWith(' ')) rest = rest.slice(1)
  return { text: text.slice(0, start) + inserted + rest, caret: start + inserted.length }
}

// The server's mentions that fit the text, in order and not overlapping: anything else
// (a stale or foreign list) is left out rather than cutting the text apart wrongly.
function validMentions(text, mentions) {
  if (!Array.isArray(mentions)) return []
  const sorted = mentions
    .filter(
      (m) =>
        m &&
        Number.isInteger(m.start) &&
        Number.isInteger(m.length) &&
        m.start >= 0 &&
        m.length > 0 &&
        m.start + m.length <= text.length,
    )
    .sort((a, b) => a.start - b.start)
  const kept = []
  let end = 0
  for (const m of sorted) {
    if (m.start < end) continue
    kept.push(m)
    end = m.start + m.length
  }
  return kept
}

// The pieces of a message's text: `{type: 'text'|'link', text, href?}` as linkify gives
// them, and `{type: 'mention', text: '@Name', user, username, mine}` for each mention.
// `people` maps user ids to what the tab knows of them now; someone it does not know
// keeps the text the message had.
export function messageParts(text, mentions, people = new Map(), meId = null) {
  const parts = []
  let last = 0
  for (const m of validMentions(text, mentions)) {
    if (m.start > last) parts.push(...linkify(text.slice(last, m.start)))
    const original = text.slice(m.start, m.start + m.length)
    const person = people.get(m.user)
    parts.push({
      type: 'mention',
      text: person ? `@${shownName(person)}` : original,
      username: person?.username || original.replace(/^@/, ''),
      user: m.user,
      mine: m.user === meId,
    })
    last = m.start + m.length
  }
  if (last < text.length) parts.push(...linkify(text.slice(last)))
  return parts
}

// Whether a message mentions me.
export function mentionsMe(message, meId) {
  return Array.isArray(message?.mentions) && message.mentions.some((m) => m?.user === meId)
}
