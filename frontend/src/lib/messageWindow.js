// Holding a stretch of a chat's history that is not its newest page: the page around a
// message (GET …/messages/?around=<id>), then the pages after it (?after=<id>) as the
// reader scrolls down, and before it (?before=<id>) as they scroll up. The log stays
// one unbroken stretch, each message once: a page that overlaps what is held joins it,
// one that does not replaces it.
import { newestId, oldestId, placeMessage } from './messageLog.js'

export function holds(log, id) {
  return log.messages.some((m) => m.id === id)
}

function byId(messages) {
  return [...messages].sort((a, b) => a.id - b.id)
}

// Whether a page (ids ascending) shares at least one place in the history with what
// the log holds: only then is their union unbroken. Ids are shared by all chats, so two
// stretches that merely look adjacent may have a message between them.
function overlaps(log, page) {
  if (!log.loaded || !log.messages.length) return false
  return page[0].id <= newestId(log) && page[page.length - 1].id >= oldestId(log)
}

// Puts the page loaded around a message into the log. `latestId` is the newest message
// of the chat the tab knows of (the chat list's last message, or anything heard live):
// a stretch that ends before it has newer pages to load. Returns whether the page was
// anything at all.
export function placeAround(log, messages, latestId = 0) {
  const page = byId(messages)
  if (!page.length) return false
  const newestBefore = newestId(log)
  const oldestBefore = oldestId(log)
  if (overlaps(log, page)) {
    for (const message of page) placeMessage(log, message)
    // Nothing is known of what is before the page: the next scroll up finds out.
    if (page[0].id < oldestBefore) log.hasMore = true
    if (newestId(log) > newestBefore) {
      log.hasNewer = newestId(log) < Math.max(latestId, log.skippedId)
    }
    return true
  }
  log.messages.splice(0)
  log.generation += 1
  log.skippedId = 0
  for (const message of page) placeMessage(log, message)
  log.hasMore = true
  log.hasNewer = newestId(log) < Math.max(latestId, newestBefore)
  log.loaded = true
  return true
}

// Adds a page loaded after the newest message held, `limit` long at most. A shorter
// page reached the end of the chat, unless a message was heard live since that the
// page does not hold (it was stored after the page was read): then there is one more
// page to load. Returns how many messages were new.
export function addNewer(log, messages, limit) {
  let added = 0
  for (const message of byId(messages)) if (placeMessage(log, message)) added++
  if (messages.length < limit) log.hasNewer = log.skippedId > newestId(log)
  return added
}
