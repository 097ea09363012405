// What a chat's notification level lets through: the chime, the count in the tab's
// title, and how loudly the chat list shows what is unread. A message that mentions
// me is counted apart. The levels (docs/conversations.md):
// - all: every message by someone else counts;
// - mentions: only messages that mention me count, and every message of a direct
//   chat (a direct message is always addressed to me);
// - muted: nothing counts; the chat's unread count is still shown, quietly.
import { t } from '../i18n.js'
import { attachmentKind } from './attachments.js'
import { mentionsMe } from './mentions.js'
import { shownName } from './names.js'
import { isDirect, roomTitle } from './roomLabels.js'

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

// Whether a newly arrived message should raise a system notification: what would
// chime, except in the chat the person is looking at. `lookingAt` is the uri of the
// chat on screen while the tab is visible and focused, else null.
export function shouldNotify(room, message, myId, lookingAt = null) {
  if (!shouldChime(room, message, myId)) return false
  return room.uri !== lookingAt
}

// Notification bodies are short on every system; the rest is in the chat.
export const NOTIFICATION_TEXT_LENGTH = 160

// What a message of files alone says instead of text.
export function filesSummary(files = []) {
  if (!Array.isArray(files) || !files.length) return ''
  const photos = files.filter((f) => attachmentKind(f) === 'photo').length
  if (photos === files.length) return t('notifications.sentPhotos', photos)
  if (files.length === 1) return t('notifications.sentFile', { name: files[0].name })
  return t('notifications.sentFiles', files.length)
}

function shortened(text, length = NOTIFICATION_TEXT_LENGTH) {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > length ? `${flat.slice(0, length - 1)}…` : flat
}

// The notification for a message: titled with the sender's name and the chat's
// (unless the chat goes by the sender's name, as a direct chat does), the text as body, tagged per chat so that a chat's
// notifications replace one another instead of piling up. `data` says what a click
// opens.
export function notificationFor(room, message, myId) {
  const sender = shownName(message.user) || t('notifications.someone')
  const chat = isDirect(room) ? sender : roomTitle(room, myId)
  // A group of two unnamed is called after the other person: their name once is enough.
  const title = chat === sender ? sender : t('notifications.title', { sender, chat })
  const body = shortened(message.message || '') || filesSummary(message.attachments)
  return {
    title,
    options: {
      body,
      tag: `chat:${room.uri}`,
      icon: '/static/icons/icon-192.png',
      data: { uri: room.uri, id: message.id },
    },
  }
}

// Where the notifications of this browser stand, for the settings to show:
// - insecure: the page is not a secure context (plain http to another machine), where
//   browsers refuse notifications (some hide the API, some deny it);
// - unavailable: the browser has no Notification API;
// - blocked: the person (or the browser) refused them for this site;
// - off: allowed or not yet asked, and not turned on in this browser;
// - on: allowed and turned on.
export function notificationState({ secure, permission, wanted }) {
  if (!secure) return 'insecure'
  if (!permission) return 'unavailable'
  if (permission === 'denied') return 'blocked'
  return permission === 'granted' && wanted ? 'on' : 'off'
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
