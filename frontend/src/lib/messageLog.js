// One room's messages as the client holds them: confirmed messages ordered by id (the
// server's order), each at most once, and the user's own sends still waiting for their
// ack. A send is matched to its stored copy by client_id, so local echo, the ack, the
// broadcast and a resend after a reconnect all end as one message.
//
// The messages held are always one unbroken stretch of the chat's history. Usually it
// ends at the newest message; opened at an older one (a search result, a reply's
// original far back), it may stop short of it (`hasNewer`), and the pages after it are
// loaded as the reader scrolls down (lib/messageWindow.js). `generation` changes each
// time the stretch is replaced, so a page asked for before that is not added to it.

export function createRoomLog() {
  return {
    messages: [],
    pending: [],
    hasMore: null,
    hasNewer: false,
    // The newest message heard live while the stretch stopped short of it.
    skippedId: 0,
    generation: 0,
    loaded: false,
    // The message to scroll to and flash next: {id, found}.
    focus: null,
  }
}

function indexOfId(messages, id) {
  let low = 0
  let high = messages.length
  while (low < high) {
    const mid = (low + high) >> 1
    if (messages[mid].id < id) low = mid + 1
    else high = mid
  }
  return low
}

// Adds a message of a history page; returns false if it was already there.
export function placeMessage(log, message) {
  if (message.client_id) {
    const at = log.pending.findIndex((p) => p.client_id === message.client_id)
    if (at !== -1) log.pending.splice(at, 1)
  }
  const at = indexOfId(log.messages, message.id)
  if (log.messages[at]?.id === message.id) return false
  log.messages.splice(at, 0, message)
  return true
}

// Adds a message heard live; returns false if it was already there. Past the end of a
// stretch that stops short of the newest message it would leave a gap, so it is only
// noted: the pages after the stretch bring it.
export function addMessage(log, message) {
  if (log.hasNewer && message.id > newestId(log)) {
    if (message.client_id) dropPending(log, message.client_id)
    if (message.id <= log.skippedId) return false
    log.skippedId = message.id
    return true
  }
  return placeMessage(log, message)
}

export function addMessages(log, messages) {
  let added = 0
  for (const message of messages) if (placeMessage(log, message)) added++
  return added
}

export function addPending(log, entry) {
  if (log.pending.some((p) => p.client_id === entry.client_id)) return
  if (log.messages.some((m) => m.client_id === entry.client_id)) return
  log.pending.push({ ...entry, status: 'sending', error: null })
}

// The server stored a send: the pending entry becomes a message with the server's id.
export function acknowledge(log, ack) {
  const at = log.pending.findIndex((p) => p.client_id === ack.client_id)
  if (at === -1) return null
  const entry = log.pending[at]
  const message = {
    id: ack.id,
    uri: entry.uri,
    user: entry.user,
    message: entry.message,
    client_id: entry.client_id,
    created_at: ack.created_at || entry.created_at,
    reply_to: entry.reply_to || null,
    attachments: entry.attachments || [],
  }
  addMessage(log, message)
  return message
}

export function failPending(log, clientId, error) {
  const entry = log.pending.find((p) => p.client_id === clientId)
  if (entry) {
    entry.status = 'failed'
    entry.error = error
  }
  return entry || null
}

export function dropPending(log, clientId) {
  const at = log.pending.findIndex((p) => p.client_id === clientId)
  if (at !== -1) log.pending.splice(at, 1)
}

// What the list shows: stored messages, then the sends still on their way.
export function visibleMessages(log) {
  return [
    ...log.messages.map((m) => ({ ...m, status: 'sent' })),
    ...log.pending.map((p) => ({ ...p, id: null })),
  ]
}

export function newestId(log) {
  return log.messages.length ? log.messages[log.messages.length - 1].id : 0
}

export function oldestId(log) {
  return log.messages.length ? log.messages[0].id : 0
}

// Forget stored messages (the server asked for a refetch); keep unsent work.
export function clearMessages(log) {
  log.messages.splice(0)
  log.hasMore = null
  log.hasNewer = false
  log.skippedId = 0
  log.generation += 1
  log.loaded = false
}

// The chat moved to a new address: its messages and waiting sends say so, so that a
// resend goes to the address that works.
export function moveLog(log, uri) {
  for (const message of log.messages) message.uri = uri
  for (const entry of log.pending) entry.uri = uri
}
