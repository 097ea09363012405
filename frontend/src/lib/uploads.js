// The files a message will carry, each uploaded on its own before the message is sent
// (docs/files.md, "Sharing files"). Each item moves
//
//   queued → uploading → done
//               ↓   ↑ retry
//             failed
//
// and from any state but done-and-sent to cancelled (cancelling a done file takes it
// off the message). The message may go only when every file still on it is done: a
// failed or unfinished upload never leaves a message with half its files.
// Each transition returns whether it applied, so an answer that comes after a cancel
// changes nothing.

// The server takes at most this many files on one message.
export const MAX_FILES = 10

export function createQueue() {
  return { items: [], next: 1 }
}

function liveItems(queue) {
  return queue.items.filter((item) => item.status !== 'cancelled')
}

// Adds files in the order given, up to MAX_FILES on the message; returns the items
// added (as the queue holds them, so changes to them are seen) and the files left out.
export function addFiles(queue, files) {
  const added = []
  const refused = []
  for (const file of files) {
    if (liveItems(queue).length >= MAX_FILES) {
      refused.push(file)
      continue
    }
    queue.items.push({
      key: queue.next++,
      file,
      name: file.name || 'pasted file',
      size: file.size,
      status: 'queued',
      loaded: 0,
      error: '',
      result: null,
    })
    added.push(queue.items[queue.items.length - 1])
  }
  return { added, refused }
}

export function startUpload(item) {
  if (item.status !== 'queued') return false
  item.status = 'uploading'
  item.loaded = 0
  item.error = ''
  return true
}

export function noteProgress(item, loaded) {
  if (item.status !== 'uploading') return false
  item.loaded = Math.min(item.size, Math.max(item.loaded, loaded))
  return true
}

export function finishUpload(item, result) {
  if (item.status !== 'uploading') return false
  item.status = 'done'
  item.loaded = item.size
  item.result = result
  return true
}

export function failUpload(item, reason) {
  if (item.status !== 'uploading') return false
  item.status = 'failed'
  item.error = reason || 'The upload failed.'
  return true
}

export function retryUpload(item) {
  if (item.status !== 'failed') return false
  item.status = 'queued'
  item.error = ''
  return true
}

export function cancelUpload(item) {
  if (item.status === 'cancelled') return false
  item.status = 'cancelled'
  return true
}

// Forgets cancelled items, which the composer no longer shows.
export function pruneCancelled(queue) {
  queue.items = liveItems(queue)
}

// Whole percent of the file sent, for the progress bar.
export function percentOf(item) {
  if (item.status === 'done') return 100
  if (!item.size) return 0
  return Math.floor((100 * item.loaded) / item.size)
}

// What sending the message would do now: 'empty' (nothing to send), 'uploading' (wait),
// 'failed' (a file needs a retry or to be taken off), or 'ready'.
export function sendState(queue, text = '') {
  const items = liveItems(queue)
  if (items.some((item) => item.status === 'failed')) return 'failed'
  if (items.some((item) => item.status !== 'done')) return 'uploading'
  if (items.length === 0 && !text.trim()) return 'empty'
  return 'ready'
}

// The uploaded files, in the order they were added, as the server described them.
export function uploadedFiles(queue) {
  return liveItems(queue)
    .filter((item) => item.status === 'done')
    .map((item) => item.result)
}

// The message was sent: the queue starts over.
export function clearQueue(queue) {
  queue.items = []
}
