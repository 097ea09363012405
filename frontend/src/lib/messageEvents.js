// Changes to messages a room's log already holds: the `edited`, `deleted` and `reacted`
// frames of /ws (docs/conversations.md). Each frame carries the whole message as it is
// after the change (`target`) and the room's event number (`seq`), so applying one is
// a replacement, kept only if it is newer than what the log shows. That makes applying
// a frame twice, or an old frame after a newer one (a replay after a resume, a history
// page that raced a live frame), change nothing.

export const MESSAGE_EVENTS = ['edited', 'deleted', 'reacted']

// How long a quote of a message is, as the server builds `reply_to.excerpt`.
export const EXCERPT_LENGTH = 140

function find(log, id) {
  return log.messages.find((m) => m.id === id) || null
}

// The number of the newest change the log shows of a message: its own number, or that
// of the last event applied to it.
export function versionOf(log, message) {
  return log.versions?.[message.id] ?? message.seq ?? 0
}

// Whether `target`, known as of event `seq`, is newer than the `held` copy. A tombstone
// never comes back to life and a later edit is never undone by an earlier one, whatever
// the numbers say (a history page carries no number for its state).
function isNewer(log, held, target, seq) {
  if (held.deleted && !target.deleted) return false
  if (held.edited_at && target.edited_at && target.edited_at < held.edited_at) return false
  if (!Number.isInteger(seq)) return true
  return seq > versionOf(log, held)
}

// Replies quote their original: when the original changes, so does the quote, as the
// server would build it now.
function requote(log, target) {
  for (const message of log.messages) {
    const quote = message.reply_to
    if (!quote || quote.id !== target.id) continue
    message.reply_to = {
      ...quote,
      user: target.user || quote.user,
      excerpt: target.deleted ? '' : (target.message || '').slice(0, EXCERPT_LENGTH),
      deleted: !!target.deleted,
    }
  }
}

// Applies one frame to the room's log. Returns the message as the log now shows it, or
// null when the frame changed nothing (not held, or older than what is shown).
export function applyMessageEvent(log, frame) {
  if (!MESSAGE_EVENTS.includes(frame?.type)) return null
  const target = frame.target
  if (!target || !Number.isInteger(target.id)) return null
  const held = find(log, target.id)
  if (!held || !isNewer(log, held, target, frame.seq)) return null
  const at = log.messages.indexOf(held)
  const next = { ...held, ...target }
  log.messages.splice(at, 1, next)
  if (Number.isInteger(frame.seq)) {
    log.versions ??= {}
    log.versions[target.id] = Math.max(versionOf(log, held), frame.seq)
  }
  if (frame.type !== 'reacted') requote(log, next)
  return next
}

// Applies frames in the order of their numbers, as a replay delivers them.
export function applyMessageEvents(log, frames) {
  const ordered = [...frames].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0))
  return ordered.map((frame) => applyMessageEvent(log, frame)).filter(Boolean)
}
