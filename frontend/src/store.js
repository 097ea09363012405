// The app's state in one reactive object, and the actions that change it. The server
// is the truth: this holds what the tab has seen of it, plus the user's unsent messages
// (kept in localStorage so a reload does not lose them). Everything a login builds up
// lives in that one object, so ending the login replaces it whole.
import { t } from './i18n.js'
import { computed, markRaw, reactive, watch } from 'vue'
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
  moveLog,
  newestId,
  oldestId,
} from './lib/messageLog.js'
import { applyMessageEvent, EXCERPT_LENGTH } from './lib/messageEvents.js'
import { addNewer, holds, placeAround } from './lib/messageWindow.js'
import { applyPresence } from './lib/presence.js'
import {
  appendRooms,
  applyMembership,
  findRoom,
  memberPreview,
  moveRoom,
  noteLastMessage,
  renameKey,
  unreadTotal,
} from './lib/rooms.js'
import { applyRename } from './lib/roomLabels.js'
import { shouldChime } from './lib/notify.js'
import { createSocket, retryDelay } from './lib/socket.js'
import { playDing } from './lib/sound.js'
import { shownName } from './lib/names.js'
import { load, save } from './lib/storage.js'
import { noteTyping, stopTyping, TYPING_SHOWN_MS, typingDue } from './lib/typing.js'
import { applyRead, countArrival, mergeSummary, trackUnread } from './lib/unread.js'
import { refusalText, unsentKey, unsentToRestore, unsentToSave } from './lib/unsent.js'
import { chatPath, replace } from './router.js'
import { notifyArrival } from './notifications.js'

export const PAGE_SIZE = 50
// Chats per page of the chat list: the server's default, more than a screen shows.
export const CHATS_PAGE = 100
export const MAX_MESSAGE_LENGTH = 4000
// A read marker is sent once the reader has rested on the newest message this long: a
// burst of messages read as they come makes one frame, not one per message.
export const READ_DELAY_MS = 500
// The server closes a socket whose login ended (logged out, deactivated) with this code.
const CLOSE_LOGIN_ENDED = 4401

// The machinery of one login that the screen never shows: its socket, its timers and
// what is in flight. Kept raw, so Vue neither tracks it nor unwraps the socket's refs.
function freshWiring() {
  return markRaw({
    socket: null,
    stopStatusWatch: null,
    // Read markers set in this tab but not yet sent, by chat, and the timer that sends.
    unsentReads: {},
    readTimer: null,
    // One first load of a chat's history at a time, however many callers ask for it.
    latestLoads: {},
    // When each chat last heard that we are typing.
    typingSentAt: {},
    // The timers that take each typing name down again: {uri: {username: timer}}.
    typingExpiry: {},
    // Sends the server refused as too fast, waiting to go again: {client_id: timer}.
    resendTimers: {},
  })
}

export function freshState() {
  return {
    me: null,
    booted: false,
    // The box did not answer when the app started (a page from the service worker's
    // cache while the box is down): the app says so instead of asking for a login.
    unreachable: false,
    rooms: [],
    roomsLoaded: false,
    // The cursor of the chat list's next page, null when the tab holds them all.
    moreRooms: null,
    loadingMoreRooms: false,
    logs: {},
    details: {},
    online: {},
    typing: {},
    openUri: null,
    // Whether the open chat is scrolled to its newest message (its list says so).
    atBottom: true,
    openError: null,
    // The chat this tab just gave a new address, so its page can say so.
    addressChanged: null,
    everConnected: false,
    socketStatus: 'idle',
    wiring: freshWiring(),
  }
}

export const store = reactive(freshState())

export function logFor(uri) {
  if (!store.logs[uri]) store.logs[uri] = createRoomLog()
  return store.logs[uri]
}

function roomSummary(uri) {
  return findRoom(store.rooms, uri)
}

// An answer that arrives after its login ended belongs to nobody: callers compare the
// wiring they started with against the current one before they write.
function stillCurrent(wiring) {
  return store.wiring === wiring
}

// -- persistence ---------------------------------------------------------------------

function persistPending() {
  save(unsentKey(store.me?.id), unsentToSave(store.logs))
}

function restorePending() {
  for (const entry of unsentToRestore(load(unsentKey(store.me?.id), []))) {
    addPending(logFor(entry.uri), entry)
  }
}

// -- session ---------------------------------------------------------------------------

export async function boot() {
  try {
    store.me = await api.me()
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) console.warn(error)
    store.me = null
    store.unreachable = error instanceof ApiError && error.status === 0
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

// The session is over (logged out here or elsewhere): stop its socket and timers, then
// forget everything of this user at once.
function endSession() {
  const { socket, stopStatusWatch, readTimer, typingExpiry, resendTimers } = store.wiring
  clearTimeout(readTimer)
  for (const timers of Object.values(typingExpiry)) {
    for (const timer of Object.values(timers)) clearTimeout(timer)
  }
  for (const timer of Object.values(resendTimers)) clearTimeout(timer)
  stopStatusWatch?.()
  socket?.close()
  Object.assign(store, freshState(), { booted: true })
}

// -- socket ------------------------------------------------------------------------------

function connectSocket() {
  const wiring = store.wiring
  wiring.stopStatusWatch?.()
  wiring.socket?.close()
  const socket = createSocket({ onFrame, onOpen, onDown })
  wiring.socket = socket
  wiring.stopStatusWatch = watch(socket.status, (status) => (store.socketStatus = status), {
    immediate: true,
    flush: 'sync',
  })
  socket.connect()
}

export function reconnectNow() {
  store.wiring.socket?.reconnectNow()
}

export function connectionLost() {
  store.wiring.socket?.drop()
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
  const wiring = store.wiring
  try {
    await api.me()
  } catch (error) {
    if (error instanceof ApiError && error.status === 401 && stillCurrent(wiring)) endSession()
  }
}

function transmit(entry) {
  store.wiring.socket?.sendIfOpen({
    type: 'send',
    uri: entry.uri,
    client_id: entry.client_id,
    text: entry.message,
    ref: entry.client_id,
    ...(entry.reply_to ? { reply_to: entry.reply_to.id } : {}),
    ...(entry.attachments?.length ? { attachments: entry.attachments.map((f) => f.id) } : {}),
  })
}

function subscribe(room) {
  // Resume from what the tab holds, else from the newest message the chat list knew:
  // the unread ones before it are counted by the server, and shown when the chat opens.
  const after = newestId(logFor(room.uri)) || room.last_message?.id || 0
  store.wiring.socket?.subscribe(room.uri, after)
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
    noteLastMessage(store.rooms, frame)
    clearTyping(frame.uri, shownName(frame.user))
    const room = roomSummary(frame.uri)
    const counted = room ? countArrival(room, frame, store.me?.id) : false
    if (frame.user.id === store.me?.id) return
    markRead(frame.uri)
    if (counted && document.hidden && shouldChime(room, frame, store.me?.id)) playDing()
    if (counted) notifyArrival(room, frame, store.me?.id, store.openUri)
  },
  ack(frame) {
    const log = logFor(frame.uri)
    const message = acknowledge(log, frame)
    persistPending()
    if (message) {
      noteLastMessage(store.rooms, message)
      const room = roomSummary(frame.uri)
      if (room) countArrival(room, message, store.me?.id)
      markRead(frame.uri)
    }
  },
  read(frame) {
    const room = roomSummary(frame.uri)
    if (!room) return
    applyRead(room, frame.id, logFor(frame.uri).messages, store.me?.id)
    const { unsentReads } = store.wiring
    if (unsentReads[frame.uri] <= frame.id) delete unsentReads[frame.uri]
  },
  error(frame) {
    if (typeof frame.ref !== 'string') return
    const delay = retryDelay(frame)
    if (delay !== null) return resendLater(frame.ref, delay)
    const detail = refusalText(frame.detail)
    for (const log of Object.values(store.logs)) {
      if (failPending(log, frame.ref, detail)) persistPending()
    }
  },
  typing(frame) {
    const name = frame.user && shownName(frame.user)
    if (!name) return
    const { uri } = frame
    noteTyping(store.typing, uri, name, Date.now())
    const expiry = (store.wiring.typingExpiry[uri] ??= {})
    clearTimeout(expiry[name])
    expiry[name] = setTimeout(() => clearTyping(uri, name), TYPING_SHOWN_MS)
  },
  presence(frame) {
    store.online[frame.uri] = applyPresence(store.online[frame.uri], frame)
  },
  member(frame) {
    applyMembership(roomSummary(frame.uri), store.details[frame.uri], frame)
  },
  removed(frame) {
    // Anyone may join a named room, so only its owner can let a removed person back in.
    const askOwner = roomSummary(frame.uri)?.is_private === false
    forgetRoom(frame.uri)
    if (store.openUri !== frame.uri) return
    store.openError =
      frame.reason === 'removed'
        ? t(askOwner ? 'chat.removedAskOwner' : 'chat.removedAskMember')
        : t('chat.noLongerMember')
  },
  moved(frame) {
    followMove(frame.uri, frame.new_uri)
  },
  edited: applyChange,
  deleted: applyChange,
  reacted: applyChange,
  renamed(frame) {
    applyRename(roomSummary(frame.uri), frame.name)
  },
  // Someone else made the user a member of a chat (a direct message, being added).
  chat(frame) {
    if (frame.chat?.uri) addRoom(frame.chat)
  },
  async reset(frame) {
    const log = logFor(frame.uri)
    const wiring = store.wiring
    clearMessages(log)
    await loadLatest(frame.uri)
    if (stillCurrent(wiring)) wiring.socket?.resumeFrom(frame.uri, newestId(log))
  },
}

// An edit, delete or reaction: the message is replaced where the tab holds it, and so is
// the chat list's preview of it.
function applyChange(frame) {
  const changed = applyMessageEvent(logFor(frame.uri), frame)
  const room = roomSummary(frame.uri)
  if (changed && room?.last_message?.id === changed.id) room.last_message = changed
}

function onFrame(frame) {
  const handler = handlers[frame.type]
  if (handler) handler(frame)
}

function pendingSend(clientIdValue) {
  for (const log of Object.values(store.logs)) {
    const entry = log.pending.find((p) => p.client_id === clientIdValue)
    if (entry) return entry
  }
  return null
}

// A send refused as faster than the user's budget goes again, unchanged, once the
// server says it fits: still "sending" meanwhile, as it would be on a slow network.
function resendLater(clientIdValue, delay) {
  const wiring = store.wiring
  if (!pendingSend(clientIdValue) || wiring.resendTimers[clientIdValue]) return
  wiring.resendTimers[clientIdValue] = setTimeout(() => {
    delete wiring.resendTimers[clientIdValue]
    const entry = stillCurrent(wiring) && pendingSend(clientIdValue)
    if (entry && entry.status === 'sending') transmit(entry)
  }, delay)
}

function clearTyping(uri, username) {
  stopTyping(store.typing, uri, username)
  const expiry = store.wiring.typingExpiry[uri]
  if (expiry) {
    clearTimeout(expiry[username])
    delete expiry[username]
  }
}

function forgetRoom(uri) {
  store.rooms = store.rooms.filter((r) => r.uri !== uri)
  store.wiring.socket?.unsubscribe(uri)
  delete store.details[uri]
}

// The owner gave a chat a new address: it is the same chat, so everything the tab holds
// for it (summary, messages, unsent sends, members, read marker, typing) moves along, and
// an open chat's address bar follows. Told twice (the owner's own answer, then the frame)
// the second time finds nothing left to move.
function followMove(from, to) {
  if (typeof to !== 'string' || !to || from === to) return
  const { wiring } = store
  moveRoom(store.rooms, from, to)
  for (const map of [
    store.logs,
    store.details,
    store.online,
    store.typing,
    wiring.unsentReads,
    wiring.typingSentAt,
    wiring.typingExpiry,
  ]) {
    renameKey(map, from, to)
  }
  if (store.logs[to]) moveLog(store.logs[to], to)
  persistPending()
  wiring.socket?.rename(from, to)
  if (store.openUri === from) {
    store.openUri = to
    replace(chatPath(to))
  }
}

// -- rooms ------------------------------------------------------------------------------

// The chat list, in the server's order (most recent activity first), each chat with
// its unread count and a preview of its members.
export async function refreshRooms() {
  const wiring = store.wiring
  const data = await api.chats({ limit: CHATS_PAGE })
  if (!stillCurrent(wiring)) return
  store.moreRooms = data.next ?? null
  // Reads this tab made or heard of may not have reached the server when it answered.
  const known = Object.fromEntries(store.rooms.map((r) => [r.uri, r.last_read_id]))
  store.rooms = data.chats.map(trackUnread)
  store.roomsLoaded = true
  for (const room of store.rooms) {
    const later = Math.max(known[room.uri] || 0, wiring.unsentReads[room.uri] || 0)
    if (later) applyRead(room, later, logFor(room.uri).messages, store.me?.id)
    subscribe(room)
  }
}

// The chat list's next page, below the chats the tab holds.
export async function loadMoreRooms() {
  const wiring = store.wiring
  const cursor = store.moreRooms
  if (!cursor || store.loadingMoreRooms) return
  store.loadingMoreRooms = true
  try {
    const data = await api.chats({ limit: CHATS_PAGE, cursor })
    if (!stillCurrent(wiring) || store.moreRooms !== cursor) return
    for (const room of appendRooms(store.rooms, data.chats.map(trackUnread))) subscribe(room)
    store.moreRooms = data.next ?? null
  } finally {
    if (stillCurrent(wiring)) store.loadingMoreRooms = false
  }
}

export function addRoom(summary) {
  const existing = roomSummary(summary.uri)
  if (existing) mergeSummary(existing, summary, logFor(summary.uri).messages, store.me?.id)
  else store.rooms.unshift(trackUnread(summary))
  subscribe(summary)
}

export async function startPrivateChat() {
  const wiring = store.wiring
  const data = await api.startPrivate()
  if (stillCurrent(wiring)) addRoom(data.chat)
  return data.uri
}

export async function openNamedRoom(name) {
  const wiring = store.wiring
  const data = await api.openNamed(name)
  if (stillCurrent(wiring)) addRoom(data.chat)
  return data.uri
}

// Shows a chat: joins it first if the user came by a shared link. With `at`, the chat
// opens at that message (a search result, a link to a message) instead of its newest.
export async function openChat(uri, { at = null } = {}) {
  const wiring = store.wiring
  const stale = () => store.openUri !== uri || !stillCurrent(wiring)
  store.openUri = uri
  store.openError = null
  store.atBottom = true
  try {
    if (!store.roomsLoaded) await refreshRooms()
    if (!stillCurrent(wiring)) return
    if (!roomSummary(uri)) {
      await api.join(uri)
    }
    const detail = await api.chat(uri)
    if (stale()) return
    const { members, ...summary } = detail
    store.details[uri] = { members }
    addRoom({ ...summary, members: memberPreview(members) })
    const log = logFor(uri)
    const shown = at ? await showMessage(uri, at) : false
    if (!shown && !log.loaded) await loadLatest(uri)
    // Opened from the list, a chat shows its newest messages, wherever it was left.
    else if (!at && log.hasNewer) await showLatest(uri)
    markRead(uri)
  } catch (error) {
    if (stale()) return
    store.openError =
      error instanceof ApiError && error.status === 404 ? t('chat.noSuchChat') : error.message
  }
}

// A member adds someone by username; someone the owner removed is let back in.
export async function addMember(uri, username) {
  const wiring = store.wiring
  const data = await api.addMember(uri, username)
  if (stillCurrent(wiring)) {
    applyMembership(roomSummary(uri), store.details[uri], { event: 'joined', user: data.user })
  }
  return data
}

// The owner removes someone, who then cannot come back by the link.
export async function removeMember(uri, user) {
  const wiring = store.wiring
  await api.removeMember(uri, user.username)
  if (stillCurrent(wiring)) {
    applyMembership(roomSummary(uri), store.details[uri], { event: 'left', user })
  }
}

// The owner gives a private chat a new address; the old link stops working.
export async function changeAddress(uri) {
  const wiring = store.wiring
  const data = await api.changeAddress(uri)
  if (stillCurrent(wiring)) {
    followMove(data.old_uri, data.uri)
    store.addressChanged = data.uri
  }
  return data.uri
}

export function closeChat() {
  store.openUri = null
  store.openError = null
}

function loadLatest(uri) {
  const loads = store.wiring.latestLoads
  loads[uri] ??= fetchLatest(uri).finally(() => delete loads[uri])
  return loads[uri]
}

async function fetchLatest(uri) {
  const log = logFor(uri)
  for (;;) {
    const { generation } = log
    // Messages already held arrived live since the chat list was read: continue
    // backwards from the oldest of them.
    const before = oldestId(log) || undefined
    const page = await api.history(uri, { before, limit: PAGE_SIZE })
    if (log.generation === generation) {
      addMessages(log, page.messages)
      log.hasMore = page.messages.length === PAGE_SIZE
      log.loaded = true
      return
    }
    // Replaced meanwhile: by a stretch around an older message, which is what the
    // reader now wants; or emptied (a reset), which this page may not fit.
    if (log.loaded) return
  }
}

export async function loadOlder(uri) {
  const log = logFor(uri)
  if (!log.hasMore || log.loadingOlder) return 0
  log.loadingOlder = true
  const { generation } = log
  try {
    const page = await api.history(uri, { before: oldestId(log), limit: PAGE_SIZE })
    if (log.generation !== generation) return 0
    log.hasMore = page.messages.length === PAGE_SIZE
    return addMessages(log, page.messages)
  } finally {
    log.loadingOlder = false
  }
}

// The pages after a stretch that stops short of the newest message, one per call; a
// page that reaches the end while a message heard live is still missing is followed by
// one more, which holds it.
export async function loadNewer(uri) {
  const log = logFor(uri)
  if (!log.hasNewer || log.loadingNewer) return 0
  log.loadingNewer = true
  const { generation } = log
  let added = 0
  try {
    for (let pages = 0; pages < 2 && log.hasNewer; pages++) {
      const page = await api.history(uri, { after: newestId(log), limit: PAGE_SIZE })
      if (log.generation !== generation) return 0
      added += addNewer(log, page.messages, PAGE_SIZE)
      if (page.messages.length === PAGE_SIZE) break
    }
    return added
  } finally {
    log.loadingNewer = false
  }
}

// Shows a message of the chat: where the log holds it already, else by loading the
// stretch around it. The message list scrolls to `log.focus` and flashes it, or says
// the message cannot be shown (deleted, or never in this chat). Resolves to whether it
// is there to show.
export async function showMessage(uri, id) {
  const log = logFor(uri)
  if (!holds(log, id)) {
    const { generation } = log
    let page
    try {
      page = await api.history(uri, { around: id, limit: PAGE_SIZE })
    } catch (error) {
      if (!(error instanceof ApiError) || error.status === 0) throw error
      page = { messages: [] }
    }
    if (log.generation !== generation) return false
    // Messages around an id that is not in this chat are not what was asked for.
    if (page.messages.some((m) => m.id === id)) {
      const latest = Math.max(roomSummary(uri)?.last_message?.id || 0, log.skippedId)
      placeAround(log, page.messages, latest)
    }
  }
  const found = holds(log, id)
  log.focus = { id, found }
  return found
}

// Back to the newest page, from a stretch further back.
export async function showLatest(uri) {
  const log = logFor(uri)
  clearMessages(log)
  await loadLatest(uri)
}

// -- read markers ------------------------------------------------------------------------

// The reader sees the newest message of a chat: the chat is open, the tab visible and
// the list scrolled to the bottom.
function seesNewest(uri) {
  return store.openUri === uri && store.atBottom && !logFor(uri).hasNewer && !document.hidden
}

// Marks the chat read up to its newest message if the reader can see it: at once in
// this tab, and after a short rest on the server, which tells the user's other tabs.
export function markRead(uri) {
  const room = roomSummary(uri)
  if (!room || !seesNewest(uri)) return
  const log = logFor(uri)
  const newest = Math.max(newestId(log), room.last_message?.id || 0)
  if (!applyRead(room, newest, log.messages, store.me?.id)) return
  const wiring = store.wiring
  wiring.unsentReads[uri] = newest
  clearTimeout(wiring.readTimer)
  wiring.readTimer = setTimeout(sendReads, READ_DELAY_MS)
}

// Sends the read markers still resting, now: the page is going away (a reload, a closed
// tab), and a marker left to its timer would go with it.
export function flushReads() {
  const wiring = store.wiring
  if (wiring.readTimer === null) return
  clearTimeout(wiring.readTimer)
  sendReads()
}

function sendReads() {
  const wiring = store.wiring
  wiring.readTimer = null
  const reads = wiring.unsentReads
  wiring.unsentReads = {}
  // A socket that is down keeps these and sends them once it is back.
  for (const [uri, id] of Object.entries(reads)) wiring.socket?.send({ type: 'read', uri, id })
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

export const totalUnread = computed(() => unreadTotal(store.rooms))

// -- sending ----------------------------------------------------------------------------

// `replyTo`, if given, is the message this one answers; `attachments` are files already
// uploaded to the chat (the server's file objects), which the message then carries.
export function sendMessage(uri, text, replyTo = null, attachments = []) {
  const { id, username, first_name, last_name, display_name } = store.me
  const entry = {
    client_id: clientId(),
    uri,
    user: { id, username, first_name, last_name, display_name },
    message: text,
    created_at: new Date().toISOString(),
    reply_to: replyTo ? quoteOf(replyTo) : null,
    attachments,
  }
  const log = logFor(uri)
  // A message sent is read at the end of the chat: back there from further up.
  if (log.hasNewer) showLatest(uri).catch(() => {})
  addPending(log, entry)
  persistPending()
  transmit(entry)
  // The message ends the others' "typing" line: the next keystroke may start it again.
  delete store.wiring.typingSentAt[uri]
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

export function sendTyping(uri) {
  const wiring = store.wiring
  if (!typingDue(wiring.typingSentAt, uri, Date.now())) return
  wiring.socket?.sendIfOpen({ type: 'typing', uri })
}

// -- changing messages -----------------------------------------------------------------

// How a reply quotes its original until the server's copy of the reply arrives.
function quoteOf(message) {
  return {
    id: message.id,
    user: message.user,
    excerpt: message.deleted ? '' : message.message.slice(0, EXCERPT_LENGTH),
    deleted: !!message.deleted,
  }
}

// Each resolves once the change is committed (its frame shows it), or rejects with the
// server's reason; nothing changes in the tab until the frame comes.
function requestChange(frame) {
  const socket = store.wiring.socket
  if (!socket) return Promise.reject(new Error(t('errors.notConnected')))
  return socket.request(frame)
}

export function editMessage(uri, id, text) {
  return requestChange({ type: 'edit', uri, id, text })
}

export function deleteMessage(uri, id) {
  return requestChange({ type: 'delete', uri, id })
}

export function react(uri, id, emoji, on) {
  return requestChange({ type: 'react', uri, id, emoji, on })
}
