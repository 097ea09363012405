// What a chat's notification level lets through: the chime, the count in the tab's
// title, and how loudly the chat list shows what is unread. A message that mentions
// me is counted apart. The levels (docs/conversations.md):
// - all: every message by someone else counts;
// - mentions: only messages that mention me count, and every message of a direct
//   chat (a direct message is always addressed to me);
// - muted: nothing counts; the chat's unread count is still shown, quietly.
import { mentionsMe } from './mentions.js'
import { isDirect } from './roomLabels.js'

// Each level's name is in the catalogue under notify.<level>.
export const LEVELS = ['all', 'mentions', 'muted']

export function levelOf(room) {
  const level = room?.notify
  return LEVELS.includes(level) ? level : 'all'
}

// Whether a newly arrived message by someone else should chime.
export function shouldChime(room, message, myId) {
  if (!room || message?.user?.id === myId) return false
  const level = levelOf(room)
  if (level === 'all') return true
  if (level === 'mentions') return isDirect(room) || mentionsMe(message, myId)
  return false
}

// What a chat adds to the tab's title: `count` is what its level lets through, and
// `mentions` the messages among them that mention me.
export function titleShare(room) {
  const unread = room.unread || 0
  const mentions = Math.min(room.mentions || 0, unread)
  const level = levelOf(room)
  if (level === 'all') return { count: unread, mentions }
  if (level === 'mentions') return { count: isDirect(room) ? unread : mentions, mentions }
  return { count: 0, mentions: 0 }
}

export function titleCounts(rooms) {
  const total = { count: 0, mentions: 0 }
  for (const room of rooms) {
    const share = titleShare(room)
    total.count += share.count
    total.mentions += share.mentions
  }
  return total
}

function capped(n) {
  return n > 99 ? '99+' : String(n)
}

// "(5) chatbox"; "(5 · @2) chatbox" when two of the five mention me; "(@2) chatbox" when
// all that counts are mentions.
export function badgeTitle({ count = 0, mentions = 0 } = {}, base = 'chatbox') {
  const total = Math.max(count, mentions)
  if (total <= 0) return base
  if (mentions <= 0) return `(${capped(total)}) ${base}`
  if (mentions === total) return `(@${capped(mentions)}) ${base}`
  return `(${capped(total)} · @${capped(mentions)}) ${base}`
}

// How the chat list shows a chat's unread messages: the count (quiet when the chat's
// level does not let them through) and the mentions of me apart.
export function listBadges(room) {
  const unread = room.unread || 0
  const mentions = Math.min(room.mentions || 0, unread)
  const level = levelOf(room)
  return {
    unread,
    mentions,
    quiet: level === 'muted' || (level === 'mentions' && !isDirect(room)),
    quietMentions: level === 'muted',
  }
}
