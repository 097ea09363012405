// Making sure the room's log holds a message before showing it: older pages are loaded
// until it is there, the beginning of the chat is reached, or enough pages were read
// that the message is too far back to be worth the wait.

// 20 pages of 50: a thousand messages back, a few seconds on a Raspberry Pi.
export const MAX_PAGES = 20
// How often to look again while another load of older messages (a scroll) is running.
const WAIT_MS = 50

const holds = (log, id) => log.messages.some((m) => m.id === id)

// `loadOlder()` loads one page before the oldest held message. Resolves to whether the
// log holds the message now.
export async function revealMessage(log, id, loadOlder, { maxPages = MAX_PAGES } = {}) {
  let pages = 0
  while (!holds(log, id)) {
    if (log.loadingOlder) {
      await new Promise((resolve) => setTimeout(resolve, WAIT_MS))
      continue
    }
    // Every held message is newer than the one sought: it cannot be in a later page.
    if (!log.hasMore || pages >= maxPages) return false
    if (log.messages.length && log.messages[0].id < id) return false
    pages += 1
    try {
      await loadOlder()
    } catch {
      return false
    }
  }
  return true
}
