// How a chat is named and pictured in the list and its header, from the members preview
// the chat list carries, so naming a chat needs no request of its own.

function othersIn(room, myId) {
  return (room.members || []).filter((m) => m.id !== myId)
}

// Whose face a private chat shows: the first other member, else the owner.
export function roomFace(room, myId) {
  return othersIn(room, myId)[0]?.username || room.owner?.username || ''
}

export function roomTitle(room, myId) {
  if (!room) return ''
  if (!room.is_private) return `#${room.name || room.uri}`
  const others = othersIn(room, myId).map((m) => m.username)
  // The preview holds a few members; the count says how many there are in all.
  const total = Math.max(others.length, (room.member_count || 1) - 1)
  if (total === 0) return 'Private chat (only you so far)'
  const shown = others.slice(0, 3)
  return total > shown.length ? `${shown.join(', ')} +${total - shown.length}` : shown.join(', ')
}
