// Frames that ask the server for a change and wait for its answer (edit, delete, react
// on /ws): each gets a `ref`, and the promise it returns settles when a `done` or an
// `error` frame with that ref comes back. A refusal for going over the user's budget
// is sent again once the server says it fits; a socket that drops before the answer
// leaves the outcome unknown, which the person is told rather than left waiting.
import { t } from '../i18n.js'
export class RequestError extends Error {
  constructor(code, detail) {
    super(describe(code, detail))
    this.code = code
  }
}

// What each refusal says when the server gives no words of its own.
const DEFAULT_TEXT = {
  not_found: 'requests.notFound',
  forbidden: 'requests.forbidden',
  invalid: 'requests.refused',
  disk_full: 'requests.diskFull',
  dropped: 'requests.dropped',
}

function describe(code, detail) {
  if (typeof detail === 'string' && detail) return detail
  if (detail && typeof detail === 'object') {
    const text = Object.values(detail).flat().join(' ')
    if (text) return text
  }
  return t(DEFAULT_TEXT[code] || 'requests.refused')
}

const PREFIX = 'req-'

// `retryDelay(frame)` is the socket's: milliseconds to wait before sending a frame again,
// or null for a refusal that stands.
export function createRequests({ retryDelay, setTimer = (fn, ms) => setTimeout(fn, ms) }) {
  // ref -> {frame, resolve, reject, written}
  const waiting = new Map()
  let next = 0

  // `send(frame)` queues the frame while the socket is down and writes it once open;
  // `isOpen()` says whether it is being written now.
  function start(frame, send, isOpen) {
    next += 1
    const ref = `${PREFIX}${next}`
    return new Promise((resolve, reject) => {
      waiting.set(ref, { frame: { ...frame, ref }, resolve, reject, written: isOpen(), send })
      send({ ...frame, ref })
    })
  }

  // Settles the request a frame answers; returns whether it answered one.
  function settle(frame) {
    if (typeof frame.ref !== 'string' || !frame.ref.startsWith(PREFIX)) return false
    const entry = waiting.get(frame.ref)
    if (!entry) return false
    if (frame.type === 'done') {
      waiting.delete(frame.ref)
      entry.resolve(frame)
      return true
    }
    if (frame.type !== 'error') return false
    const delay = retryDelay(frame)
    if (delay !== null) {
      setTimer(() => waiting.has(frame.ref) && entry.send(entry.frame), delay)
      return true
    }
    waiting.delete(frame.ref)
    entry.reject(new RequestError(frame.code, frame.detail))
    return true
  }

  // The socket opened: what was queued is written now.
  function opened() {
    for (const entry of waiting.values()) entry.written = true
  }

  // The socket dropped: requests already written may or may not have been done.
  function dropped() {
    for (const [ref, entry] of waiting) {
      if (!entry.written) continue
      waiting.delete(ref)
      entry.reject(new RequestError('dropped'))
    }
  }

  // The login ended: nothing will answer.
  function abandon() {
    for (const entry of waiting.values()) entry.reject(new RequestError('dropped'))
    waiting.clear()
  }

  return { start, settle, opened, dropped, abandon, size: () => waiting.size }
}
