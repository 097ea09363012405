// A chat's unread count: the server's count when the chat list was read, kept up to
// date in the tab as messages arrive and read markers move. The state lives on the
// chat's summary: `unread` and `last_read_id` from the server, and `counted_through`,
// the newest message id already in the count (or known not to belong in it). Apart,
// `mentions` counts the unread messages that mention the user.
import { mentionsMe } from './mentions.js'

// A summary fresh from the server: everything up to its newest message is counted.
export function trackUnread(room) {
  room.unread ??= 0
  room.mentions ??= 0
  room.last_read_id ??= 0
  room.counted_through = Math.max(room.last_message?.id || 0, room.last_read_id)
  return room
}

// A stored message reached the tab; counts it if it is someone else's and new.
// Returns true if the count went up.
export function countArrival(room, message, myId) {
  if (!Number.isInteger(message.id) || message.id <= room.counted_through) return false
  room.counted_through = message.id
  if (message.user?.id === myId || message.id <= room.last_read_id) return false
  room.unread += 1
  if (mentionsMe(message, myId)) room.mentions += 1
  return true
}

// The read marker moved to `id`, in this tab or another. Only messages by others after
// it stay unread; `messages` is what the tab holds of the chat. The tab may not hold
// every message the server counted, so the count never grows here.
export function applyRead(room, id, messages, myId) {
  if (!Number.isInteger(id) || id <= room.last_read_id) return false
  room.last_read_id = id
  if (id >= room.counted_through) {
    room.unread = 0
    room.mentions = 0
    room.counted_through = id
    return true
  }
  let after = 0
  let mentioning = 0
  for (const m of messages) {
    if (m.id > id && m.id <= room.counted_through && m.user?.id !== myId) {
      after++
      if (mentionsMe(m, myId)) mentioning++
    }
  }
  room.unread = Math.min(room.unread, after)
  room.mentions = Math.min(room.mentions || 0, mentioning)
  return true
}

// A newer summary of a chat the tab already follows (opening it fetches one). Its
// counts are older than what the tab has counted since, so only a read marker that
// moved further on the server is taken from it.
export function mergeSummary(room, summary, messages, myId) {
  const { unread, mentions, last_read_id: lastRead, ...rest } = summary
  Object.assign(room, rest)
  if (
    !room.last_message ||
    (summary.last_message && summary.last_message.id > room.last_message.id)
  ) {
    room.last_message = summary.last_message
  }
  applyRead(room, lastRead, messages, myId)
  return room
}
