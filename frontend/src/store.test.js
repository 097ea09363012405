import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

// The store talks to the server through the API module and one socket: both are
// replaced here by stand-ins the tests feed by hand.
const server = vi.hoisted(() => ({
  chats: [],
  // The chat list's pages: how many chats the server gives at a time.
  chatsPage: 100,
  chatsAsked: [],
  subscribed: [],
  sent: [],
  socket: null,
  me: null,
  // How the server answers a history request; a test may hold the answer back.
  history: async () => ({ messages: [] }),
  // Set to refuse joins, as the server refuses someone the owner removed.
  joinRefusal: null,
  // The address the server gives a chat whose owner asks for a new one.
  newAddress: 'fresh-address',
  // Chats the socket was told moved.
  renamed: [],
}))

vi.mock('./lib/api.js', () => {
  class ApiError extends Error {
    constructor(status, detail) {
      super(detail || `status ${status}`)
      this.status = status
    }
  }
  return {
    ApiError,
    api: {
      me: async () => {
        if (!server.me) throw new ApiError(401)
        return server.me
      },
      chats: async ({ limit, cursor } = {}) => {
        server.chatsAsked.push({ limit, cursor })
        const start = cursor ? Number(cursor) : 0
        const end = start + Math.min(limit || 100, server.chatsPage)
        return {
          chats: structuredClone(server.chats.slice(start, end)),
          next: end < server.chats.length ? String(end) : null,
        }
      },
      chat: async (uri) => ({
        ...structuredClone(server.chats.find((c) => c.uri === uri)),
        members: [],
      }),
      history: (uri, options) => server.history(uri, options),
      join: async (uri) => {
        if (server.joinRefusal) throw new ApiError(403, server.joinRefusal)
        server.chats.push(chat(uri))
        return {}
      },
      changeAddress: async (uri) => {
        const moved = server.chats.find((c) => c.uri === uri)
        moved.uri = server.newAddress
        return { uri: server.newAddress, old_uri: uri, chat: structuredClone(moved) }
      },
      login: async () => server.me,
      logout: async () => null,
    },
  }
})

vi.mock('./lib/socket.js', async (importOriginal) => {
  const { ref } = await import('vue')
  const { retryDelay } = await importOriginal()
  return {
    retryDelay,
    createSocket(handlers) {
      server.socket = {
        handlers,
        status: ref('open'),
        connect() {},
        close() {
          this.status.value = 'closed'
        },
        send: (frame) => server.sent.push(frame),
        sendIfOpen: (frame) => server.sent.push(frame),
        request: async (frame) => {
          server.sent.push(frame)
          return { type: 'done', uri: frame.uri, seq: null }
        },
        subscribe: (uri) => server.subscribed.push(uri),
        unsubscribe() {},
        resumeFrom() {},
        rename: (from, to) => server.renamed.push([from, to]),
        reconnectNow() {},
      }
      return server.socket
    },
  }
})

const {
  boot,
  changeAddress,
  CHATS_PAGE,
  deleteMessage,
  editMessage,
  freshState,
  loadMoreRooms,
  loadNewer,
  loadOlder,
  login,
  logout,
  flushReads,
  markRead,
  openChat,
  react,
  sendMessage,
  sendTyping,
  setAtBottom,
  store,
  totalUnread,
  unreadCount,
  READ_DELAY_MS,
} = await import('./store.js')

const ME = { id: 1, username: 'me', first_name: '', last_name: '' }
const ANN = { id: 2, username: 'ann', first_name: '', last_name: '' }
const BEN = { id: 3, username: 'ben', first_name: '', last_name: '' }
let nextId = 100

function message(uri, user = ANN) {
  nextId += 1
  return {
    type: 'message',
    id: nextId,
    uri,
    user,
    message: `m${nextId}`,
    client_id: null,
    created_at: '2026-01-01T10:00:00Z',
  }
}

function chat(uri, extra = {}) {
  return {
    uri,
    name: null,
    is_private: true,
    owner: ME,
    created_at: '2026-01-01T09:00:00Z',
    member_count: 2,
    members: [ME, ANN],
    last_message: null,
    last_read_id: 0,
    unread: 0,
    ...extra,
  }
}

const frame = (f) => server.socket.handlers.onFrame(f)
const reads = () => server.sent.filter((f) => f.type === 'read')

beforeEach(async () => {
  vi.useFakeTimers()
  server.me = ME
  server.sent = []
  server.chatsPage = 100
  server.chatsAsked = []
  server.subscribed = []
  server.history = async () => ({ messages: [] })
  server.joinRefusal = null
  server.renamed = []
  server.chats = [chat('busy', { unread: 3, last_message: message('busy') }), chat('quiet')]
  await boot()
})

afterEach(() => {
  server.socket.handlers.onDown({ code: 4401 }, 1)
  vi.useRealTimers()
})

describe('the store', () => {
  it("takes unread counts and the order from the server's chat list", () => {
    expect(store.rooms.map((r) => r.uri)).toEqual(['busy', 'quiet'])
    expect(unreadCount('busy')).toBe(3)
    expect(totalUnread.value).toBe(3)
  })

  it('counts a new message by someone else and moves its chat to the top', () => {
    frame(message('quiet'))
    frame(message('quiet', ME))
    expect(unreadCount('quiet')).toBe(1)
    expect(totalUnread.value).toBe(4)
    expect(store.rooms[0].uri).toBe('quiet')
  })

  it('clears a count when another tab says the chat was read', () => {
    const last = store.rooms[0].last_message.id
    frame({ type: 'read', uri: 'busy', id: last })
    expect(unreadCount('busy')).toBe(0)
    expect(reads()).toEqual([])
  })

  it('marks an open chat read once the reader is at the bottom, and tells the server once per burst', async () => {
    await openChat('busy')
    expect(unreadCount('busy')).toBe(0)
    frame(message('busy'))
    const newest = message('busy')
    frame(newest)
    expect(unreadCount('busy')).toBe(0)
    expect(reads()).toEqual([])
    vi.advanceTimersByTime(READ_DELAY_MS)
    expect(reads()).toEqual([{ type: 'read', uri: 'busy', id: newest.id }])
  })

  it('sends a resting read marker at once when the page goes away', async () => {
    await openChat('busy')
    vi.advanceTimersByTime(READ_DELAY_MS)
    server.sent = []
    const newest = message('busy')
    frame(newest)
    expect(reads()).toEqual([])
    flushReads()
    expect(reads()).toEqual([{ type: 'read', uri: 'busy', id: newest.id }])
    // Nothing more when its timer would have fired, and nothing for a page with none.
    vi.advanceTimersByTime(READ_DELAY_MS)
    flushReads()
    expect(reads()).toEqual([{ type: 'read', uri: 'busy', id: newest.id }])
  })

  it('leaves messages unread while the reader is scrolled up', async () => {
    await openChat('busy')
    vi.advanceTimersByTime(READ_DELAY_MS)
    server.sent = []
    setAtBottom('busy', false)
    const arrived = message('busy')
    frame(arrived)
    expect(unreadCount('busy')).toBe(1)
    vi.advanceTimersByTime(READ_DELAY_MS)
    expect(reads()).toEqual([])
    setAtBottom('busy', true)
    expect(unreadCount('busy')).toBe(0)
    vi.advanceTimersByTime(READ_DELAY_MS)
    expect(reads()).toEqual([{ type: 'read', uri: 'busy', id: arrived.id }])
  })

  it('does not mark a chat read that is not open', () => {
    markRead('busy')
    vi.advanceTimersByTime(READ_DELAY_MS)
    expect(unreadCount('busy')).toBe(3)
    expect(reads()).toEqual([])
  })

  it('keeps who is online from the subscribe snapshot and each presence batch after it', () => {
    frame({ type: 'subscribed', uri: 'busy', latest_id: 0, online: [ME.id, ANN.id] })
    frame({ type: 'presence', uri: 'busy', came_online: [BEN.id], went_offline: [ANN.id] })
    expect(store.online.busy).toEqual([ME.id, BEN.id].sort((a, b) => a - b))
    frame({ type: 'presence', uri: 'busy', came_online: [ANN.id], went_offline: [] })
    expect(store.online.busy).toEqual([ME.id, ANN.id, BEN.id].sort((a, b) => a - b))
    frame({ type: 'subscribed', uri: 'busy', latest_id: 0, online: [ME.id] })
    expect(store.online.busy).toEqual([ME.id])
    expect(store.online.quiet).toBeUndefined()
  })

  it('reads the chat list a page at a time and puts each next page below', async () => {
    await logout()
    server.chatsPage = 1
    server.chats.push(chat('older', { unread: 2 }))
    server.chatsAsked = []
    await login('me', 'secret')
    expect(store.rooms.map((r) => r.uri)).toEqual(['busy'])
    expect(server.chatsAsked).toEqual([{ limit: CHATS_PAGE, cursor: undefined }])
    await loadMoreRooms()
    await loadMoreRooms()
    expect(store.rooms.map((r) => r.uri)).toEqual(['busy', 'quiet', 'older'])
    expect(server.subscribed).toEqual(expect.arrayContaining(['busy', 'quiet', 'older']))
    expect(unreadCount('older')).toBe(2)
    expect(store.moreRooms).toBe(null)
    await loadMoreRooms()
    expect(server.chatsAsked.map((a) => a.cursor)).toEqual([undefined, '1', '2'])
  })

  it('sends a message refused as too fast again, unchanged, once the server says it fits', () => {
    sendMessage('quiet', 'in a hurry')
    const sends = () => server.sent.filter((f) => f.type === 'send')
    const [first] = sends()
    frame({
      type: 'error',
      code: 'rate_limited',
      detail: 'You are sending messages too fast.',
      ref: first.client_id,
      retry_after: 0.5,
    })
    expect(store.logs.quiet.pending[0].status).toBe('sending')
    vi.advanceTimersByTime(499)
    expect(sends()).toHaveLength(1)
    vi.advanceTimersByTime(1)
    expect(sends()).toEqual([first, first])
    frame({ type: 'ack', uri: 'quiet', client_id: first.client_id, id: 500, duplicate: false })
    expect(store.logs.quiet.pending).toEqual([])
  })

  it('ends the session at once when the server says the login ended', () => {
    server.socket.handlers.onDown({ code: 4401 }, 1)
    expect(store.me).toBe(null)
    expect(store.rooms).toEqual([])
  })
})

describe('removal', () => {
  const REMOVED = 'You were removed from this chat; ask a member to add you back.'

  it('says so when the owner removes the reader from the open chat', async () => {
    await openChat('busy')
    frame({ type: 'removed', uri: 'busy', reason: 'removed' })
    expect(store.openError).toBe(REMOVED)
    expect(store.rooms.map((r) => r.uri)).toEqual(['quiet'])
  })

  it('sends someone removed from a named room to its owner', async () => {
    server.chats.push(chat('general', { name: 'general', is_private: false }))
    await openChat('general')
    frame({ type: 'removed', uri: 'general', reason: 'removed' })
    expect(store.openError).toBe('You were removed from this chat; ask its owner to add you back.')
  })

  it('says the chat is no longer theirs when they left it from another tab', async () => {
    await openChat('busy')
    frame({ type: 'removed', uri: 'busy', reason: 'left' })
    expect(store.openError).toBe('You are no longer a member of this chat.')
  })

  it("shows the server's refusal, and does not join, when the link is opened again", async () => {
    server.joinRefusal = REMOVED
    await openChat('elsewhere')
    expect(store.openError).toBe(REMOVED)
    expect(store.rooms.map((r) => r.uri)).toEqual(['busy', 'quiet'])
    await openChat('elsewhere')
    expect(store.openError).toBe(REMOVED)
  })
})

describe('a chat that moved to a new address', () => {
  it('keeps its messages, unread count, unsent sends and members under the new address', async () => {
    await openChat('quiet')
    frame(message('busy'))
    sendMessage('busy', 'on its way')
    store.details.busy = { members: [ME, ANN] }
    frame({ type: 'subscribed', uri: 'busy', latest_id: 0, online: [ANN.id] })
    const held = store.logs.busy.messages.length
    frame({ type: 'moved', uri: 'busy', new_uri: 'moved-to' })
    expect(store.rooms.map((r) => r.uri)).toEqual(['moved-to', 'quiet'])
    expect(unreadCount('moved-to')).toBe(4)
    expect(store.logs.busy).toBeUndefined()
    expect(store.logs['moved-to'].messages).toHaveLength(held)
    expect(store.logs['moved-to'].pending.map((p) => p.uri)).toEqual(['moved-to'])
    expect(store.details['moved-to'].members).toEqual([ME, ANN])
    expect(store.online['moved-to']).toEqual([ANN.id])
    expect(server.renamed).toEqual([['busy', 'moved-to']])
    // A later send and a retry go to the address that works.
    sendMessage('moved-to', 'after the move')
    const sends = server.sent.filter((f) => f.type === 'send')
    expect(sends.map((f) => f.uri)).toEqual(['busy', 'moved-to'])
    // The open chat was another one: the address bar stays where it is.
    expect(store.openUri).toBe('quiet')
  })

  it('takes the address bar of an open chat along', async () => {
    await openChat('busy')
    frame({ type: 'moved', uri: 'busy', new_uri: 'moved-to' })
    expect(store.openUri).toBe('moved-to')
    expect(window.location.pathname).toBe('/chats/moved-to/')
  })

  it("follows the owner's own change once, though the server also sends the frame", async () => {
    await openChat('busy')
    const uri = await changeAddress('busy')
    expect(uri).toBe('fresh-address')
    expect(store.addressChanged).toBe('fresh-address')
    frame({ type: 'moved', uri: 'busy', new_uri: 'fresh-address' })
    expect(store.rooms.map((r) => r.uri)).toEqual(['fresh-address', 'quiet'])
    expect(store.openUri).toBe('fresh-address')
    expect(window.location.pathname).toBe('/chats/fresh-address/')
  })
})

describe('logging out', () => {
  const loggedOut = () => ({ ...freshState(), booted: true })
  // A copy of the store as plain data, to compare whole with a fresh one.
  const snapshot = () => JSON.parse(JSON.stringify(store))

  it('leaves nothing of the session behind', async () => {
    await logout()
    expect(snapshot()).toEqual(loggedOut())

    await login('me', 'secret')
    let answerHistory
    server.history = () => new Promise((resolve) => (answerHistory = resolve))
    const opening = openChat('busy')
    await vi.waitFor(() => expect(answerHistory).toBeTypeOf('function'))
    sendTyping('busy')
    frame({ type: 'typing', uri: 'busy', user: ANN })
    frame({ type: 'subscribed', uri: 'busy', latest_id: 0, online: [ME.id, ANN.id] })
    sendMessage('quiet', 'not sent yet')
    frame(message('busy', BEN))
    expect(store.rooms).not.toEqual([])
    expect(store.logs.quiet.pending).toHaveLength(1)
    expect(store.typing.busy).toEqual({ ann: expect.any(Number) })
    expect(store.wiring.latestLoads.busy).toBeInstanceOf(Promise)
    expect(store.wiring.typingSentAt.busy).toBeTypeOf('number')
    expect(store.wiring.typingExpiry.busy.ann).not.toBe(undefined)
    expect(store.wiring.readTimer).not.toBe(null)

    await logout()
    expect(snapshot()).toEqual(loggedOut())
    expect(store.wiring).toEqual(freshState().wiring)

    // What the ended session left running finds nowhere to write.
    answerHistory({ messages: [message('busy')] })
    await opening
    vi.runAllTimers()
    expect(snapshot()).toEqual(loggedOut())
    expect(reads()).toEqual([])
  })

  it('lets the next login start afresh', async () => {
    server.history = () => new Promise(() => {})
    openChat('busy')
    sendTyping('busy')
    await logout()

    server.history = async () => ({ messages: [message('busy')] })
    server.sent = []
    await login('me', 'secret')
    sendTyping('busy')
    expect(server.sent).toEqual([{ type: 'typing', uri: 'busy' }])
    await openChat('busy')
    expect(store.logs.busy.loaded).toBe(true)
    expect(store.logs.busy.messages).toHaveLength(1)
  })
})

describe('replies, edits, deletes and reactions', () => {
  it('sends a reply with the id it answers and shows its quote while it waits', () => {
    const original = { ...message('busy'), seq: 4 }
    frame(original)
    sendMessage('busy', 'yes', original)
    const sent = server.sent.find((f) => f.type === 'send')
    expect(sent).toMatchObject({ uri: 'busy', text: 'yes', reply_to: original.id })
    expect(store.logs.busy.pending[0].reply_to).toEqual({
      id: original.id,
      user: ANN,
      excerpt: original.message,
      deleted: false,
    })
  })

  it('applies edits, deletes and reactions to held messages and the chat preview', () => {
    const held = { ...message('busy'), seq: 10, reactions: [], edited_at: null, deleted: false }
    frame(held)
    expect(store.rooms[0].last_message.id).toBe(held.id)
    const edit = {
      type: 'edited',
      uri: 'busy',
      seq: 11,
      target: { ...held, message: 'fixed', edited_at: '2026-01-01T10:05:00Z' },
    }
    frame(edit)
    expect(store.logs.busy.messages.at(-1).message).toBe('fixed')
    expect(store.rooms[0].last_message.message).toBe('fixed')
    frame({
      type: 'reacted',
      uri: 'busy',
      seq: 12,
      target: { ...edit.target, reactions: [{ emoji: '👍', users: [1] }] },
      user: ME,
      emoji: '👍',
      on: true,
    })
    expect(store.logs.busy.messages.at(-1).reactions).toEqual([{ emoji: '👍', users: [1] }])
    const tombstone = { ...held, message: '', reactions: [], deleted: true }
    frame({ type: 'deleted', uri: 'busy', seq: 13, target: tombstone, by: ANN })
    // A replay of the same events after a resume shows the tombstone, once.
    frame(edit)
    frame({ type: 'deleted', uri: 'busy', seq: 13, target: tombstone, by: ANN })
    const shown = store.logs.busy.messages.filter((m) => m.id === held.id)
    expect(shown).toEqual([expect.objectContaining({ deleted: true, message: '' })])
  })

  it('asks the server for edits, deletes and reactions over the socket', async () => {
    await editMessage('busy', 7, 'new text')
    await deleteMessage('busy', 8)
    await react('busy', 9, '🎉', false)
    expect(server.sent.slice(-3)).toEqual([
      { type: 'edit', uri: 'busy', id: 7, text: 'new text' },
      { type: 'delete', uri: 'busy', id: 8 },
      { type: 'react', uri: 'busy', id: 9, emoji: '🎉', on: false },
    ])
  })
})

describe('a chat opened at an older message', () => {
  // The chat "busy" as the server holds it: messages 1 to `newest`, and the history
  // call's four ways of paging through them.
  let newest
  const stored = (id) => ({ id, uri: 'busy', user: ANN, message: `m${id}`, created_at: '' })
  const between = (low, high) => {
    const out = []
    for (let id = Math.max(low, 1); id <= Math.min(high, newest); id++) out.push(stored(id))
    return out
  }
  const asked = []
  const ids = () => store.logs.busy.messages.map((m) => m.id)
  const unbroken = () => ids().every((id, i, all) => i === 0 || id === all[i - 1] + 1)

  beforeEach(() => {
    newest = 300
    asked.length = 0
    store.rooms.find((r) => r.uri === 'busy').last_message = stored(newest)
    server.chats.find((c) => c.uri === 'busy').last_message = stored(newest)
    server.history = async (uri, { before, after, around, limit = 50 }) => {
      asked.push({ before, after, around })
      if (around) return { messages: between(around - limit / 2, around + limit / 2 - 1) }
      if (after) return { messages: between(after + 1, after + limit) }
      const end = before ? before - 1 : newest
      return { messages: between(end - limit + 1, end) }
    }
  })

  it('loads the stretch around it, says where to scroll, and leaves the chat unread', async () => {
    await openChat('busy', { at: 120 })
    expect(asked).toEqual([{ before: undefined, after: undefined, around: 120 }])
    expect(ids()).toContain(120)
    expect(store.logs.busy.focus).toEqual({ id: 120, found: true })
    expect(store.logs.busy.hasNewer).toBe(true)
    setAtBottom('busy', true)
    vi.advanceTimersByTime(READ_DELAY_MS)
    expect(unreadCount('busy')).toBe(3)
    expect(reads()).toEqual([])
  })

  it('scrolls down to the newest message without gaps, taking in what arrived meanwhile', async () => {
    await openChat('busy', { at: 120 })
    newest = 301
    frame({ ...stored(301), type: 'message' })
    expect(ids()).not.toContain(301)
    while (store.logs.busy.hasNewer) await loadNewer('busy')
    expect(ids()[ids().length - 1]).toBe(301)
    expect(unbroken()).toBe(true)
    frame({ ...stored(302), type: 'message' })
    expect(ids()[ids().length - 1]).toBe(302)
    await loadOlder('busy')
    expect(unbroken()).toBe(true)
    expect(ids()[0]).toBeLessThan(95)
  })

  it('goes back to the newest page when the reader sends a message', async () => {
    await openChat('busy', { at: 120 })
    sendMessage('busy', 'hello')
    await vi.waitFor(() => expect(store.logs.busy.loaded).toBe(true))
    expect(ids()[ids().length - 1]).toBe(300)
    expect(store.logs.busy.hasNewer).toBe(false)
    expect(store.logs.busy.pending.map((p) => p.message)).toContain('hello')
  })

  it('shows the newest page again when the chat is opened from the list', async () => {
    await openChat('busy', { at: 120 })
    await openChat('busy')
    expect(ids()[ids().length - 1]).toBe(300)
    expect(store.logs.busy.hasNewer).toBe(false)
    expect(unbroken()).toBe(true)
  })

  it('loads the newest page again when the log is emptied while a load is under way', async () => {
    const answer = server.history
    let release
    server.history = (uri, options) => {
      server.history = answer
      return new Promise((resolve) => (release = () => resolve(answer(uri, options))))
    }
    const opening = openChat('busy')
    await vi.waitFor(() => expect(release).toBeDefined())
    const resetting = frame({ type: 'reset', uri: 'busy' })
    release()
    await opening
    await resetting
    expect(store.logs.busy.loaded).toBe(true)
    expect(ids()[ids().length - 1]).toBe(300)
    // The page asked for before the reset was set aside, and the newest asked again.
    expect(asked).toHaveLength(2)
  })

  it('uses what it holds when the message is already there', async () => {
    await openChat('busy')
    asked.length = 0
    await openChat('busy', { at: 290 })
    expect(asked).toEqual([])
    expect(store.logs.busy.focus).toEqual({ id: 290, found: true })
  })

  it('says a message it cannot find is not there, and shows the newest instead', async () => {
    const answer = server.history
    // The server gives the messages of this chat nearest the id asked for.
    server.history = async (uri, options) =>
      options.around ? { messages: between(10, 60) } : answer(uri, options)
    await openChat('busy', { at: 999 })
    expect(store.logs.busy.focus).toEqual({ id: 999, found: false })
    expect(store.logs.busy.loaded).toBe(true)
    expect(store.logs.busy.hasNewer).toBe(false)
    expect(ids()[ids().length - 1]).toBe(300)
    expect(store.openError).toBe(null)
  })
})

describe('files', () => {
  // The sends these tests leave waiting are not the next test's business.
  afterEach(() => localStorage.clear())

  it('sends uploaded files by id and keeps them on the message once acknowledged', () => {
    const photo = { id: 17, name: 'beach.jpg', thumbnail_url: '/api/files/17/thumbnail' }
    sendMessage('busy', '', null, [photo])
    const sent = server.sent.find((f) => f.type === 'send')
    expect(sent).toMatchObject({ uri: 'busy', text: '', attachments: [17] })
    frame({ type: 'ack', uri: 'busy', client_id: sent.client_id, id: 900 })
    expect(store.logs.busy.messages.at(-1)).toMatchObject({ id: 900, attachments: [photo] })
  })

  it('sends no attachments field for a message without files', () => {
    sendMessage('busy', 'just words')
    expect(server.sent.find((f) => f.type === 'send')).not.toHaveProperty('attachments')
  })
})
