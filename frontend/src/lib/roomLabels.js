// How a chat is named and pictured in the list and its header, from what the chat list
// carries (its kind, name, the other person of a direct chat, a members preview), so
// naming a chat needs no request of its own.
import { t } from '../i18n.js'
import { shownName } from './names.js'

function othersIn(room, myId) {
  return (room.members || []).filter((m) => m.id !== myId)
}

export function isDirect(room) {
  return room?.kind === 'direct'
}

// A private chat that is not a direct one: its members may name it. Summaries from
// before chats had kinds say only whether they are private.
export function isGroup(room) {
  return !!room && (room.kind === 'group' || (room.kind === undefined && !!room.is_private))
}

// The other person of a direct chat, from the summary or else its members preview.
export function directPartner(room, myId) {
  return room.direct_with || othersIn(room, myId)[0] || null
}

// Whose face a private chat shows (a user object): the other person of a direct chat,
// the first other member of a group, else the owner.
export function roomFace(room, myId) {
  if (isDirect(room)) return directPartner(room, myId) || room.owner || null
  return othersIn(room, myId)[0] || room.owner || null
}

export function roomTitle(room, myId) {
  if (!room) return ''
  if (!room.is_private && !isDirect(room)) return `#${room.name || room.uri}`
  if (isDirect(room)) return shownName(directPartner(room, myId)) || t('rooms.directChat')
  if (room.name) return room.name
  const others = othersIn(room, myId).map(shownName)
  // The preview holds a few members; the count says how many there are in all.
  const total = Math.max(others.length, (room.member_count || 1) - 1)
  if (total === 0) return t('rooms.onlyYou')
  const shown = others.slice(0, 3)
  return total > shown.length ? `${shown.join(', ')} +${total - shown.length}` : shown.join(', ')
}

// A member named or renamed a group (`renamed` frame or the answer to a rename): ""
// clears the name, and the chat goes back to being called after its members.
export function applyRename(room, name) {
  if (!room || typeof name !== 'string') return false
  const next = name || null
  if (room.name === next) return false
  room.name = next
  return true
}
