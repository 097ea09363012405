// The app's state in one reactive object, and the actions that change it. The server
// is the truth: this holds what the tab has seen of it, plus the user's unsent messages
// (kept in localStorage so a reload does not lose them).
import { computed, reactive, watch } from 'vue'
import { api, ApiError } from './lib/api.js'
import { clientId } from './lib/ids.js'
import {
  acknowledge,
  addMessage,
  addMessages,
  addPending,
  clearMessages,
  createRoomLog,
  dropPending,
  failPending,
  newestId,
  oldestId,
} from './lib/messageLog.js'
import { playDing } from './lib/sound.js'
import { load, save } from './lib/storage.js'
import { useSocket } from './composables/useSocket.js'

export const PAGE_SIZE = 50
// How long "X is typing…" stays up after the last typing frame; clients send one at
// most every few seconds while the user types.
const TYPING_SHOWN_MS = 5000
export const MAX_MESSAGE_LENGTH = 4000

function freshState() {
  return {
    me: null,
    booted: false,
    rooms: [],
    roomsLoaded: false,
    logs: {},
    details: {},
    online: {},
    typing: {},
    reads: {},
    openUri: null,
    openError: null,
    everConnected: false,
    socketStatus: 'idle',
  }
}

export const store = reactive(freshState())

let socket = null
let stopStatusWatch = null

const pendingKey = () => `chatbox:pending:${store.me?.id}`
const readsKey = () => `chatbox:read:${store.me?.id}`

export function logFor(uri) {
  if (!store.logs[uri]) store.logs[uri] = createRoomLog()
  return store.logs[uri]
}

function roomSummary(uri) {
  return store.rooms.find((r) => r.uri === uri) || null
}

// -- persistence ---------------------------------------------------------------------

function persistPending() {
  const all = []
  for (const log of Object.values(store.logs)) {
    for (const p of log.pending) {
      all.push({ client_id: p.client_id, uri: p.uri, user: p.user, message: p.message, created_at: p.created_at })
    }
  }
  save(pendingKey(), all)
}

function restorePending() {
  for (const entry of load(pendingKey(), [])) {
    if (entry && typeof entry.uri === 'string' && typeof entry.client_id === 'string') {
      addPending(logFor(entry.uri), entry)
    }
  }
}

function persistReads() {
  save(readsKey(), store.reads)
}

// -- session ---------------------------------------------------------------------------

export async function boot() {
  try {
    store.me = await api.me()
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) console.warn(error)
    store.me = null
  }
  store.booted = true
  if (store.me) await startSession()
}

async function startSession() {
  store.reads = load(readsKey(), {})
  restorePending()
  connectSocket()
  await refreshRooms()
}

export async function login(username, password) {
  store.me = await api.login(username, password)
  await startSession()
}

export async function signup(fields) {
  await api.signup(fields)
  await login(fields.username, fields.password)
}

export async function logout() {
  try {
    await api.logout()
  } finally {
    endSession()
  }
}

// The session is over (logged out here or elsewhere): forget everything of this user.
function endSession() {
  stopStatusWatch?.()
  socket?.close()
  socket = null
  Object.assign(store, freshState(), { booted: true })
}

// -- socket ------------------------------------------------------------------------------

function connectSocket() {
  stopStatusWatch?.()
  socket?.close()
  socket = useSocket({ onFrame, onOpen, onDown })
  stopStatusWatch = watch(socket.status, (status) => (store.socketStatus = status), {
    immediate: true,
    flush: 'sync',
  })
  socket.connect()
}

export function reconnectNow() {
  socket?.reconnectNow()
}

function onOpen() {
  const reconnected = store.everConnected
  store.everConnected = true
  for (const log of Object.values(store.logs)) {
    for (const entry of log.pending) {
      if (entry.status === 'sending') transmit(entry)
    }
  }
  // Rooms joined in another tab meanwhile show up after a reconnect.
  if (reconnected) refreshRooms().catch(() => {})
}

async function onDown(_event, attempts) {
  // A socket refused over and over may mean the session ended (logged out elsewhere).
  if (attempts < 2 || !store.me) return
  try {
    await api.me()
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) endSession()
  }
}

function transmit(entry) {
  socket?.sendIfOpen({
    type: 'send',
    uri: entry.uri,
    client_id: entry.client_id,
    text: entry.message,
    ref: entry.client_id,
  })
}

function subscribe(room) {
  const log = logFor(room.uri)
  const last = room.last_message?.id || 0
  if (store.reads[room.uri] === undefined) {
    // A room first seen on this device starts as read up to its newest message.
    store.reads[room.uri] = last
    persistReads()
  }
  // Resume from what the tab holds, else from the last read message so the unread
  // ones arrive and can be counted.
  const after = newestId(log) || Math.min(store.reads[room.uri], last)
  socket?.subscribe(room.uri, after)
}

const handlers = {
  hello(frame) {
    if (store.me) store.me = { ...store.me, ...frame.user }
  },
  subscribed(frame) {
    store.online[frame.uri] = frame.online
  },
  message(frame) {
    const log = logFor(frame.uri)
    if (!addMessage(log, frame)) return
    if (frame.client_id && log.pending.length === 0) persistPending()
    noteLastMessage(frame)
    clearTyping(frame.uri, frame.user.username)
    const mine = frame.user.id === store.me?.id
    if (mine) return
    const seeing = store.openUri === frame.uri && !document.hidden
    if (seeing) markRead(frame.uri)
    if (document.hidden) playDing()
  },
  ack(frame) {
    const log = logFor(frame.uri)
    const message = acknowledge(log, frame)
    persistPending()
    if (message) {
      noteLastMessage(message)
      if (store.openUri === frame.uri) markRead(frame.uri)
    }
  },
  error(frame) {
    if (typeof frame.ref !== 'string') return
    for (const log of Object.values(store.logs)) {
      const detail = typeof frame.detail === 'string' ? frame.detail : describeDetail(frame.detail)
      if (failPending(log, frame.ref, detail)) persistPending()
    }
  },
  typing(frame) {
    const name = frame.user?.username
    if (!name) return
    const room = (store.typing[frame.uri] ??= {})
    const stamp = Date.now()
    room[name] = stamp
    setTimeout(() => {
      if (store.typing[frame.uri]?.[name] === stamp) delete store.typing[frame.uri][name]
    }, TYPING_SHOWN_MS)
  },
  presence(frame) {
    store.online[frame.uri] = frame.online
  },
  member(frame) {
    const detail = store.details[frame.uri]
    const room = roomSummary(frame.uri)
    if (frame.event === 'joined') {
      if (detail && !detail.members.some((m) => m.id === frame.user.id)) {
        detail.members.push({ ...frame.user, online: false })
      }
    } else if (detail) {
      detail.members = detail.members.filter((m) => m.id !== frame.user.id)
    }
    if (detail && room) room.member_count = detail.members.length
  },
  removed(frame) {
    forgetRoom(frame.uri)
    if (store.openUri === frame.uri) store.openError = 'You are no longer a member of this chat.'
  },
  async reset(frame) {
    const log = logFor(frame.uri)
    clearMessages(log)
    await loadLatest(frame.uri)
    socket?.resumeFrom(frame.uri, newestId(log))
  },
}

function describeDetail(detail) {
  if (detail && typeof detail === 'object') {
    return Object.values(detail).flat().join(' ') || 'The message was refused.'
  }
  return 'The message was refused.'
}

function onFrame(frame) {
  const handler = handlers[frame.type]
  if (handler) handler(frame)
}

function noteLastMessage(message) {
  const room = roomSummary(message.uri)
  if (room && (!room.last_message || room.last_message.id < message.id)) {
    room.last_message = message
  }
}

function clearTyping(uri, username) {
  if (store.typing[uri]) delete store.typing[uri][username]
}

function forgetRoom(uri) {
  store.rooms = store.rooms.filter((r) => r.uri !== uri)
  socket?.unsubscribe(uri)
  delete store.details[uri]
}

// -- rooms ------------------------------------------------------------------------------

// Private chats are named after their members, which the list does not carry: fetch
// them for the first few, on a LAN that is a handful of small requests.
const NAMED_PRIVATE_CHATS = 30

export async function refreshRooms() {
  const data = await api.chats()
  store.rooms = data.chats
  store.roomsLoaded = true
  for (const room of store.rooms) subscribe(room)
  const unnamed = store.rooms
    .filter((room) => room.is_private && !store.details[room.uri])
    .slice(0, NAMED_PRIVATE_CHATS)
  await Promise.all(unnamed.map((room) => loadDetails(room.uri).catch(() => {})))
}

async function loadDetails(uri) {
  const { members } = await api.chat(uri)
  store.details[uri] = { members }
}

// Whose face a private chat shows in the list: the first other member, else the owner.
export function roomFace(room) {
  const others = (store.details[room.uri]?.members || []).filter((m) => m.id !== store.me?.id)
  return others[0]?.username || room.owner?.username || ''
}

function addRoom(summary) {
  const existing = roomSummary(summary.uri)
  if (existing) Object.assign(existing, summary)
  else store.rooms.unshift(summary)
  subscribe(summary)
}

export async function startPrivateChat() {
  const data = await api.startPrivate()
  addRoom(data.chat)
  return data.uri
}

export async function openNamedRoom(name) {
  const data = await api.openNamed(name)
  addRoom(data.chat)
  return data.uri
}

// Shows a chat: joins it first if the user came by a shared link.
export async function openChat(uri) {
  store.openUri = uri
  store.openError = null
  try {
    if (!store.roomsLoaded) await refreshRooms()
    if (!roomSummary(uri)) {
      await api.join(uri)
    }
    const detail = await api.chat(uri)
    if (store.openUri !== uri) return
    const { members, ...summary } = detail
    store.details[uri] = { members }
    addRoom(summary)
    const log = logFor(uri)
    if (!log.loaded) await loadLatest(uri)
    markRead(uri)
  } catch (error) {
    if (store.openUri !== uri) return
    store.openError =
      error instanceof ApiError && error.status === 404
        ? 'There is no chat at this address. Check the link you were given.'
        : error.message
  }
}

export function closeChat() {
  store.openUri = null
  store.openError = null
}

// One first load per room at a time, however many callers ask for it.
const latestLoads = {}

function loadLatest(uri) {
  latestLoads[uri] ??= fetchLatest(uri).finally(() => delete latestLoads[uri])
  return latestLoads[uri]
}

async function fetchLatest(uri) {
  const log = logFor(uri)
  // Messages already held came from the resume, which replays everything after the
  // read marker up to now: continue backwards from the oldest of them.
  const before = oldestId(log) || undefined
  const page = await api.history(uri, { before, limit: PAGE_SIZE })
  addMessages(log, page.messages)
  log.hasMore = page.messages.length === PAGE_SIZE
  log.loaded = true
}

export async function loadOlder(uri) {
  const log = logFor(uri)
  if (!log.hasMore || log.loadingOlder) return 0
  log.loadingOlder = true
  try {
    const page = await api.history(uri, { before: oldestId(log), limit: PAGE_SIZE })
    log.hasMore = page.messages.length === PAGE_SIZE
    return addMessages(log, page.messages)
  } finally {
    log.loadingOlder = false
  }
}

export function markRead(uri) {
  const log = store.logs[uri]
  const newest = Math.max(log ? newestId(log) : 0, roomSummary(uri)?.last_message?.id || 0)
  if ((store.reads[uri] || 0) < newest) {
    store.reads[uri] = newest
    persistReads()
  }
}

export function unreadCount(uri) {
  const log = store.logs[uri]
  if (!log || !store.me) return 0
  const read = store.reads[uri] || 0
  let count = 0
  for (let i = log.messages.length - 1; i >= 0 && log.messages[i].id > read; i--) {
    if (log.messages[i].user.id !== store.me.id) count++
  }
  return count
}

export const totalUnread = computed(() =>
  store.rooms.reduce((sum, room) => sum + unreadCount(room.uri), 0),
)

// -- sending ----------------------------------------------------------------------------

export function sendMessage(uri, text) {
  const { id, username, first_name, last_name } = store.me
  const entry = {
    client_id: clientId(),
    uri,
    user: { id, username, first_name, last_name },
    message: text,
    created_at: new Date().toISOString(),
  }
  const log = logFor(uri)
  addPending(log, entry)
  persistPending()
  transmit(entry)
  // The message ends the others' "typing" line: the next keystroke may start it again.
  delete typingSent[uri]
}

export function retrySend(uri, clientIdValue) {
  const entry = logFor(uri).pending.find((p) => p.client_id === clientIdValue)
  if (!entry) return
  entry.status = 'sending'
  entry.error = null
  transmit(entry)
}

export function discardSend(uri, clientIdValue) {
  dropPending(logFor(uri), clientIdValue)
  persistPending()
}

// When each room last heard that we are typing.
const typingSent = {}
export function sendTyping(uri) {
  // Others show "typing" for five seconds; one frame every three keeps it up.
  const now = Date.now()
  if (now - (typingSent[uri] || 0) < 3000) return
  typingSent[uri] = now
  socket?.sendIfOpen({ type: 'typing', uri })
}

export function typingNames(uri) {
  return Object.keys(store.typing[uri] || {})
}

export function roomTitle(room) {
  if (!room) return ''
  if (!room.is_private) return `#${room.name || room.uri}`
  const members = store.details[room.uri]?.members
  const me = store.me?.username
  if (members) {
    const others = members.map((m) => m.username).filter((n) => n !== me)
    if (others.length === 0) return 'Private chat (only you so far)'
    if (others.length <= 3) return others.join(', ')
    return `${others.slice(0, 3).join(', ')} +${others.length - 3}`
  }
  return room.owner?.username === me ? 'Your private chat' : `${room.owner?.username}'s chat`
}
