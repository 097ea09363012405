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
import { applyPresence } from './lib/presence.js'
import { playDing } from './lib/sound.js'
import { load, save } from './lib/storage.js'
import { applyRead, countArrival, mergeSummary, trackUnread } from './lib/unread.js'
import { useSocket } from './composables/useSocket.js'

export const PAGE_SIZE = 50
// How long "X is typing…" stays up after the last typing frame; clients send one at
// most every few seconds while the user types.
const TYPING_SHOWN_MS = 5000
export const MAX_MESSAGE_LENGTH = 4000
// A read marker is sent once the reader has rested on the newest message this long: a
// burst of messages read as they come makes one frame, not one per message.
export const READ_DELAY_MS = 500
// The server closes a socket whose login ended (logged out, deactivated) with this code.
const CLOSE_LOGIN_ENDED = 4401
// How many members the chat list carries per chat (the server's preview).
const MEMBERS_PREVIEW = 5

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
    openUri: null,
    // Whether the open chat is scrolled to its newest message (its list says so).
    atBottom: true,
    openError: null,
    everConnected: false,
    socketStatus: 'idle',
  }
}

export const store = reactive(freshState())

let socket = null
let stopStatusWatch = null

const pendingKey = () => `chatbox:pending:${store.me?.id}`

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
      all.push({
        client_id: p.client_id,
        uri: p.uri,
        user: p.user,
        message: p.message,
        created_at: p.created_at,
      })
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
  clearTimeout(readTimer)
  readTimer = null
  unsentReads = {}
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

async function onDown(event, attempts) {
  if (!store.me) return
  // Logged out elsewhere or deactivated by an administrator: no point reconnecting.
  if (event?.code === CLOSE_LOGIN_ENDED) return endSession()
  // A socket refused over and over may mean the session ended while it was down.
  if (attempts < 2) return
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
  // Resume from what the tab holds, else from the newest message the chat list knew:
  // the unread ones before it are counted by the server, and shown when the chat opens.
  const after = newestId(logFor(room.uri)) || room.last_message?.id || 0
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
    const room = roomSummary(frame.uri)
    const counted = room ? countArrival(room, frame, store.me?.id) : false
    if (frame.user.id === store.me?.id) return
    markRead(frame.uri)
    if (counted && document.hidden) playDing()
  },
  ack(frame) {
    const log = logFor(frame.uri)
    const message = acknowledge(log, frame)
    persistPending()
    if (message) {
      noteLastMessage(message)
      const room = roomSummary(frame.uri)
      if (room) countArrival(room, message, store.me?.id)
      markRead(frame.uri)
    }
  },
  read(frame) {
    const room = roomSummary(frame.uri)
    if (!room) return
    applyRead(room, frame.id, logFor(frame.uri).messages, store.me?.id)
    if (unsentReads[frame.uri] <= frame.id) delete unsentReads[frame.uri]
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
    store.online[frame.uri] = applyPresence(store.online[frame.uri], frame)
  },
  member(frame) {
    const detail = store.details[frame.uri]
    const room = roomSummary(frame.uri)
    const id = frame.user.id
    if (frame.event === 'joined') {
      if (detail && !detail.members.some((m) => m.id === id)) {
        detail.members.push({ ...frame.user, online: false })
      }
      if (room && !room.members?.some((m) => m.id === id)) {
        room.member_count = (room.member_count || 0) + 1
        if ((room.members?.length || 0) < MEMBERS_PREVIEW) {
          room.members = [...(room.members || []), frame.user]
        }
      }
    } else {
      if (detail) detail.members = detail.members.filter((m) => m.id !== id)
      if (room) {
        room.members = (room.members || []).filter((m) => m.id !== id)
        room.member_count = Math.max(1, (room.member_count || 1) - 1)
      }
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

// The list keeps the server's order, most recent activity first: a chat with a new
// message moves to the top.
function noteLastMessage(message) {
  const room = roomSummary(message.uri)
  if (room && (!room.last_message || room.last_message.id < message.id)) {
    room.last_message = message
    const at = store.rooms.indexOf(room)
    if (at > 0) store.rooms.unshift(...store.rooms.splice(at, 1))
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

// The chat list, in the server's order (most recent activity first), each chat with
// its unread count and a preview of its members.
export async function refreshRooms() {
  const data = await api.chats()
  // Reads this tab made or heard of may not have reached the server when it answered.
  const known = Object.fromEntries(store.rooms.map((r) => [r.uri, r.last_read_id]))
  store.rooms = data.chats.map(trackUnread)
  store.roomsLoaded = true
  for (const room of store.rooms) {
    const later = Math.max(known[room.uri] || 0, unsentReads[room.uri] || 0)
    if (later) applyRead(room, later, logFor(room.uri).messages, store.me?.id)
    subscribe(room)
  }
}

function othersIn(room) {
  return (room.members || []).filter((m) => m.id !== store.me?.id)
}

// Whose face a private chat shows in the list: the first other member, else the owner.
export function roomFace(room) {
  return othersIn(room)[0]?.username || room.owner?.username || ''
}

function addRoom(summary) {
  const existing = roomSummary(summary.uri)
  if (existing) mergeSummary(existing, summary, logFor(summary.uri).messages, store.me?.id)
  else store.rooms.unshift(trackUnread(summary))
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
  store.atBottom = true
  try {
    if (!store.roomsLoaded) await refreshRooms()
    if (!roomSummary(uri)) {
      await api.join(uri)
    }
    const detail = await api.chat(uri)
    if (store.openUri !== uri) return
    const { members, ...summary } = detail
    store.details[uri] = { members }
    // The chat's answer lists every member; the list keeps a preview, like the server's.
    const preview = members.slice(0, MEMBERS_PREVIEW).map(({ online, ...user }) => user)
    addRoom({ ...summary, members: preview })
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
  // Messages already held arrived live since the chat list was read: continue
  // backwards from the oldest of them.
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

// Read markers this tab has set but not yet sent, by chat, and the timer that sends.
let unsentReads = {}
let readTimer = null

// The reader sees the newest message of a chat: the chat is open, the tab visible and
// the list scrolled to the bottom.
function seesNewest(uri) {
  return store.openUri === uri && store.atBottom && !document.hidden
}

// Marks the chat read up to its newest message if the reader can see it: at once in
// this tab, and after a short rest on the server, which tells the user's other tabs.
export function markRead(uri) {
  const room = roomSummary(uri)
  if (!room || !seesNewest(uri)) return
  const log = logFor(uri)
  const newest = Math.max(newestId(log), room.last_message?.id || 0)
  if (!applyRead(room, newest, log.messages, store.me?.id)) return
  unsentReads[uri] = newest
  clearTimeout(readTimer)
  readTimer = setTimeout(sendReads, READ_DELAY_MS)
}

function sendReads() {
  readTimer = null
  const reads = unsentReads
  unsentReads = {}
  // A socket that is down keeps these and sends them once it is back.
  for (const [uri, id] of Object.entries(reads)) socket?.send({ type: 'read', uri, id })
}

// The open chat's list tells whether the reader is at its newest message.
export function setAtBottom(uri, atBottom) {
  if (store.openUri !== uri) return
  store.atBottom = atBottom
  if (atBottom) markRead(uri)
}

export function unreadCount(uri) {
  return roomSummary(uri)?.unread || 0
}

export const totalUnread = computed(() =>
  store.rooms.reduce((sum, room) => sum + (room.unread || 0), 0),
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
  const others = othersIn(room).map((m) => m.username)
  // The preview holds a few members; the count says how many there are in all.
  const total = Math.max(others.length, (room.member_count || 1) - 1)
  if (total === 0) return 'Private chat (only you so far)'
  const shown = others.slice(0, 3)
  return total > shown.length ? `${shown.join(', ')} +${total - shown.length}` : shown.join(', ')
}
