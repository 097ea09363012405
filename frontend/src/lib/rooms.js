// The chat list as the tab keeps it: the server's summaries in the server's order, most
// recent activity first, each with a preview of its members and a member count.

// How many members the server's chat list carries per chat.
export const MEMBERS_PREVIEW = 5

export function findRoom(rooms, uri) {
  return rooms.find((r) => r.uri === uri) || null
}

// A chat with a newer message moves to the top, as the server would order it.
export function noteLastMessage(rooms, message) {
  const room = findRoom(rooms, message.uri)
  if (room && (!room.last_message || room.last_message.id < message.id)) {
    room.last_message = message
    const at = rooms.indexOf(room)
    if (at > 0) rooms.unshift(...rooms.splice(at, 1))
  }
}

// The list's preview of a chat's members, from the full list the chat itself answers.
export function memberPreview(members) {
  return members.slice(0, MEMBERS_PREVIEW).map(({ online, ...user }) => user)
}

// Someone joined or left a chat. `room` is its summary in the list and `detail` its full
// member list if the tab has loaded one; either may be missing.
export function applyMembership(room, detail, { event, user }) {
  const id = user.id
  if (event === 'joined') {
    if (detail && !detail.members.some((m) => m.id === id)) {
      detail.members.push({ ...user, online: false })
    }
    if (room && !room.members?.some((m) => m.id === id)) {
      room.member_count = (room.member_count || 0) + 1
      if ((room.members?.length || 0) < MEMBERS_PREVIEW) {
        room.members = [...(room.members || []), user]
      }
    }
  } else {
    if (detail) detail.members = detail.members.filter((m) => m.id !== id)
    if (room) {
      room.members = (room.members || []).filter((m) => m.id !== id)
      room.member_count = Math.max(1, (room.member_count || 1) - 1)
    }
  }
  // The full list, where there is one, is the truth about how many there are.
  if (detail && room) room.member_count = detail.members.length
}

// The chat's owner gave it a new address: the same chat, under the new one. Returns the
// chat, or null if the list does not hold it (any more).
export function moveRoom(rooms, from, to) {
  const room = findRoom(rooms, from)
  if (!room) return null
  room.uri = to
  if (room.last_message) room.last_message = { ...room.last_message, uri: to }
  return room
}

// Moves what a map keeps for one chat to its new address.
export function renameKey(map, from, to) {
  if (!Object.hasOwn(map, from)) return
  map[to] = map[from]
  delete map[from]
}

// A further page of the chat list goes below what the tab holds; a chat it holds
// already (it moved up while the pages were read) stays where it is. Returns the chats
// added.
export function appendRooms(rooms, page) {
  const held = new Set(rooms.map((r) => r.uri))
  const added = page.filter((r) => !held.has(r.uri))
  rooms.push(...added)
  return added
}

export function unreadTotal(rooms) {
  return rooms.reduce((sum, room) => sum + (room.unread || 0), 0)
}
