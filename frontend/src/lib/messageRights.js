// Who may do what to a message (the server checks again; this only decides which
// buttons to show). A message still on its way, or deleted, offers nothing.

function stored(message) {
  return Number.isInteger(message?.id) && !message.deleted
}

// Only the author edits, and only their own text.
export function mayEdit(message, me) {
  return stored(message) && !!me && message.user?.id === me.id
}

// The author, the chat's owner and an administrator may delete.
export function mayDelete(message, me, room) {
  if (!stored(message) || !me) return false
  return message.user?.id === me.id || room?.owner?.id === me.id || !!me.is_admin
}

// Anyone in the chat may answer or react to a stored message that is still there.
export function mayRespond(message) {
  return stored(message)
}
