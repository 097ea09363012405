// The user's unsent messages as kept in localStorage, one list per user, so that a
// reload does not lose them.

export function unsentKey(userId) {
  return `chatbox:pending:${userId}`
}

// What is worth keeping of each send still waiting in the room logs: enough to show it
// again and resend it with the same client_id.
export function unsentToSave(logs) {
  const all = []
  for (const log of Object.values(logs)) {
    for (const p of log.pending) {
      all.push({
        client_id: p.client_id,
        uri: p.uri,
        user: p.user,
        message: p.message,
        created_at: p.created_at,
        ...(p.reply_to ? { reply_to: p.reply_to } : {}),
        ...(p.attachments?.length ? { attachments: p.attachments } : {}),
      })
    }
  }
  return all
}

// Storage is another program's to change: keep only entries that can be resent.
export function unsentToRestore(saved) {
  if (!Array.isArray(saved)) return []
  return saved.filter(
    (entry) => entry && typeof entry.uri === 'string' && typeof entry.client_id === 'string',
  )
}

// The server's reason for refusing a send, in words: a string, or messages by field.
export function refusalText(detail) {
  if (typeof detail === 'string') return detail
  if (detail && typeof detail === 'object') {
    return Object.values(detail).flat().join(' ') || 'The message was refused.'
  }
  return 'The message was refused.'
}
