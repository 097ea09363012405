// The app's one websocket (/ws, see docs/protocol.md): reconnects by itself with
// exponential backoff and jitter, queues frames while it is down, and resumes every
// subscribed room after the last event of it that it saw (by the room's sequence
// number; by message id until it has one). It belongs to a login, not to a
// component: whoever creates it closes it when that login ends.
import { ref } from 'vue'
import { createRequests } from './requests.js'

// Half a second is quick enough that a server restart feels instant; the 30 s ceiling
// keeps a box that is down for long from being hammered by every open tab.
export const BASE_DELAY = 500
export const MAX_DELAY = 30000
// Frames typed while offline are kept, but not without bound.
const MAX_QUEUE = 500

// "Equal jitter": between half and all of the exponential step, so tabs that lost the
// same server do not all come back in the same instant.
export function backoffDelay(attempt, random = Math.random, base = BASE_DELAY, max = MAX_DELAY) {
  const step = Math.min(max, base * 2 ** attempt)
  return step / 2 + random() * (step / 2)
}

// How long to wait before sending again a frame the server refused as over one of the
// user's budgets (code rate_limited), in milliseconds; null for any other refusal.
export function retryDelay(frame) {
  if (frame.code !== 'rate_limited') return null
  const seconds = Number(frame.retry_after)
  return Math.max(100, Number.isFinite(seconds) ? seconds * 1000 : 1000)
}

export function socketUrl(loc = window.location) {
  return `${loc.protocol === 'https:' ? 'wss:' : 'ws:'}//${loc.host}/ws`
}

export function createSocket(options = {}) {
  const {
    url = () => socketUrl(),
    onFrame = () => {},
    onOpen = () => {},
    onDown = () => {},
    WebSocketImpl = globalThis.WebSocket,
    random = Math.random,
    setTimer = (fn, ms) => setTimeout(fn, ms),
    clearTimer = (id) => clearTimeout(id),
  } = options

  // idle → connecting → open → reconnecting → connecting … ; closed after close().
  const status = ref('idle')
  const attempts = ref(0)
  const lastIds = {}
  // uri -> the number of the room's newest event this tab has seen or been caught up to.
  const lastSeqs = {}
  // A subscribe is followed by a ping: the server answers frames in order, so the pong
  // comes after the whole replay, and only then is the room caught up to the
  // `latest_seq` of its `subscribed`. Ping ref -> uri, and uri -> that latest_seq.
  const catchingUp = new Map()
  const caughtUpTo = {}
  const rooms = new Set()
  // Each subscribe carries a ref, so that a refusal names its room: ref -> uri, until
  // the server answers it.
  const subscribing = new Map()
  let nextRef = 0
  let queue = []
  let socket = null
  let timer = null
  let deliberate = false
  // Edits, deletes and reactions waiting for their `done` (see lib/requests.js).
  const requests = createRequests({ retryDelay, setTimer })

  function write(frame) {
    socket.send(JSON.stringify(frame))
  }

  function writeSubscribe(uri) {
    nextRef += 1
    const ref = `sub-${nextRef}`
    subscribing.set(ref, uri)
    const frame = { type: 'subscribe', uri, ref }
    if (lastSeqs[uri] !== undefined) frame.after_seq = lastSeqs[uri]
    else if (lastIds[uri] !== undefined) frame.after = lastIds[uri]
    write(frame)
    catchingUp.set(`caught-up-${nextRef}`, uri)
    write({ type: 'ping', ref: `caught-up-${nextRef}` })
  }

  function noteSeq(uri, seq) {
    lastSeqs[uri] = Math.max(lastSeqs[uri] || 0, seq)
  }

  // Keeps the last event number per room from what arrives. A `done` names the number
  // of the change it made, but that change's own frame may still be on its way.
  function track(frame) {
    if (!rooms.has(frame.uri) || frame.type === 'done') return
    if (frame.type === 'message' && Number.isInteger(frame.id)) {
      lastIds[frame.uri] = Math.max(lastIds[frame.uri] || 0, frame.id)
    }
    if (Number.isInteger(frame.seq)) noteSeq(frame.uri, frame.seq)
    if (frame.type === 'subscribed' && Number.isInteger(frame.latest_seq)) {
      caughtUpTo[frame.uri] = frame.latest_seq
    }
  }

  function caughtUp(frame) {
    const uri = catchingUp.get(frame.ref)
    if (uri === undefined) return
    catchingUp.delete(frame.ref)
    if (caughtUpTo[uri] !== undefined && rooms.has(uri)) noteSeq(uri, caughtUpTo[uri])
    delete caughtUpTo[uri]
  }

  // The server answered a subscribe: forget its ref. A refusal for going over the
  // user's budget is tried again once the server says it fits, on the same socket.
  function answered(frame, ws) {
    if (frame.type === 'subscribed') {
      for (const [ref, uri] of subscribing) if (uri === frame.uri) subscribing.delete(ref)
      return
    }
    if (frame.type !== 'error' || !subscribing.has(frame.ref)) return
    const uri = subscribing.get(frame.ref)
    subscribing.delete(frame.ref)
    const delay = retryDelay(frame)
    if (delay === null) return
    setTimer(() => {
      if (ws === socket && rooms.has(uri)) writeSubscribe(uri)
    }, delay)
  }

  function connect() {
    if (socket || status.value === 'closed') return
    deliberate = false
    status.value = 'connecting'
    const ws = new WebSocketImpl(typeof url === 'function' ? url() : url)
    socket = ws
    ws.onopen = () => {
      if (ws !== socket) return
      subscribing.clear()
      catchingUp.clear()
      for (const uri of Object.keys(caughtUpTo)) delete caughtUpTo[uri]
      attempts.value = 0
      status.value = 'open'
      for (const uri of rooms) writeSubscribe(uri)
      const waiting = queue
      queue = []
      for (const frame of waiting) write(frame)
      requests.opened()
      onOpen()
    }
    ws.onmessage = (event) => {
      if (ws !== socket) return
      let frame
      try {
        frame = JSON.parse(event.data)
      } catch {
        return
      }
      if (frame.type === 'pong') {
        caughtUp(frame)
        if (typeof frame.ref === 'string' && frame.ref.startsWith('caught-up-')) return
      }
      track(frame)
      requests.settle(frame)
      answered(frame, ws)
      onFrame(frame)
    }
    ws.onclose = (event) => {
      if (ws !== socket) return
      lost(event)
    }
  }

  function lost(event) {
    socket = null
    requests.dropped()
    if (deliberate) {
      status.value = 'closed'
      return
    }
    status.value = 'reconnecting'
    const delay = backoffDelay(attempts.value, random)
    attempts.value += 1
    onDown(event, attempts.value)
    timer = setTimer(() => {
      timer = null
      connect()
    }, delay)
  }

  // The device lost its network: the socket cannot be working, whatever it says, and a
  // close handshake over no network could take long. Give it up now and reconnect (the
  // `online` event calls reconnectNow); everything missed meanwhile comes on resume.
  function drop() {
    if (!socket || status.value === 'closed') return
    const ws = socket
    ws.onmessage = null
    try {
      ws.close()
    } catch {
      // Closing a socket that is still connecting may throw in older browsers.
    }
    lost({ code: 1006 })
  }

  function send(frame) {
    if (status.value === 'open') write(frame)
    else {
      queue.push(frame)
      if (queue.length > MAX_QUEUE) queue.shift()
    }
  }

  // For frames that are worthless later (typing) or resent by their owner on open.
  function sendIfOpen(frame) {
    if (status.value !== 'open') return false
    write(frame)
    return true
  }

  // Sends a frame that asks for a change (edit, delete, react) and resolves with the
  // server's `done`, or rejects with a RequestError saying why nothing changed.
  function request(frame) {
    return requests.start(frame, send, () => status.value === 'open')
  }

  function subscribe(uri, after) {
    if (after !== undefined && after !== null) {
      lastIds[uri] = Math.max(lastIds[uri] || 0, after)
    }
    const isNew = !rooms.has(uri)
    rooms.add(uri)
    if (isNew && status.value === 'open') writeSubscribe(uri)
  }

  // After a reset the room's history was refetched: continue from its newest message.
  function resumeFrom(uri, id) {
    lastIds[uri] = id
  }

  // The chat's address changed: the server keeps the subscription (it follows the room,
  // not its address), so only what a reconnect will ask for changes.
  function rename(from, to) {
    if (!rooms.delete(from)) return
    rooms.add(to)
    for (const last of [lastIds, lastSeqs, caughtUpTo]) {
      if (last[from] !== undefined) last[to] = Math.max(last[to] || 0, last[from])
      delete last[from]
    }
    for (const [ref, uri] of catchingUp) if (uri === from) catchingUp.set(ref, to)
  }

  function unsubscribe(uri) {
    if (!rooms.delete(uri)) return
    delete lastIds[uri]
    delete lastSeqs[uri]
    delete caughtUpTo[uri]
    sendIfOpen({ type: 'unsubscribe', uri })
  }

  // The network came back: skip the rest of the backoff.
  function reconnectNow() {
    if (timer === null) return
    clearTimer(timer)
    timer = null
    attempts.value = 0
    connect()
  }

  function close() {
    deliberate = true
    if (timer !== null) clearTimer(timer)
    timer = null
    queue = []
    requests.abandon()
    status.value = 'closed'
    if (socket) {
      const ws = socket
      socket = null
      ws.close(1000, 'bye')
    }
  }

  return {
    status,
    attempts,
    lastIds,
    lastSeqs,
    connect,
    send,
    sendIfOpen,
    request,
    subscribe,
    resumeFrom,
    rename,
    unsubscribe,
    reconnectNow,
    drop,
    close,
  }
}
