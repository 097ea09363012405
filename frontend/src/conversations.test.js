import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

// The server and the socket are stand-ins the tests feed by hand, as in store.test.js.
const server = vi.hoisted(() => ({
  chats: [],
  calls: [],
  socket: null,
  refuse: null,
  chimes: 0,
}))

vi.mock('./lib/api.js', () => {
  class ApiError extends Error {
    constructor(status, detail) {
      super(detail || `status ${status}`)
      this.status = status
    }
  }
  const answer = (name, value) => {
    server.calls.push(name)
    if (server.refuse) throw new ApiError(400, server.refuse)
    return structuredClone(value)
  }
  const find = (uri) => server.chats.find((c) => c.uri === uri)
  return {
    ApiError,
    api: {
      me: async () => ({ id: 1, username: 'me', display_name: '' }),
      chats: async () => ({ chats: structuredClone(server.chats), next: null }),
      direct: async (username) => answer(`direct ${username}`, find('dm-ann')),
      rename: async (uri, name) => answer(`rename ${uri}`, { ...find(uri), name: name || null }),
      setNotify: async (uri, level) => answer(`notify ${uri}`, { ...find(uri), notify: level }),
      updateMe: async (fields) =>
        answer('me', { id: 1, username: 'me', display_name: fields.display_name }),
    },
  }
})

vi.mock('./lib/socket.js', async () => {
  const { ref } = await import('vue')
  return {
    retryDelay: () => null,
    createSocket(handlers) {
      server.socket = {
        handlers,
        status: ref('open'),
        connect() {},
        close() {},
        send() {},
        sendIfOpen() {},
        subscribe() {},
        unsubscribe() {},
        reconnectNow() {},
      }
      return server.socket
    },
  }
})

vi.mock('./lib/sound.js', () => ({ playDing: () => (server.chimes += 1) }))

const { boot, store } = await import('./store.js')
const { openDirect, renameChat, setNotifyLevel, updateProfile } = await import('./conversations.js')
const { titleCounts } = await import('./lib/notify.js')

const ME = { id: 1, username: 'me', display_name: '' }
const ANN = { id: 2, username: 'ann', display_name: 'Ann A.' }
let nextId = 100

function chat(uri, extra = {}) {
  return {
    uri,
    kind: 'group',
    name: null,
    is_private: true,
    owner: ME,
    member_count: 2,
    members: [ME, ANN],
    last_message: null,
    last_read_id: 0,
    unread: 0,
    mentions: 0,
    notify: 'all',
    direct_with: null,
    ...extra,
  }
}

function message(uri, mentions = []) {
  nextId += 1
  return { type: 'message', id: nextId, seq: nextId, uri, user: ANN, message: 'hi', mentions }
}

const atMe = [{ user: ME.id, start: 0, length: 3 }]
const frame = (f) => server.socket.handlers.onFrame(f)
const room = (uri) => store.rooms.find((r) => r.uri === uri)

function hideTab(hidden) {
  Object.defineProperty(document, 'hidden', { value: hidden, configurable: true })
}

beforeEach(async () => {
  server.calls = []
  server.refuse = null
  server.chimes = 0
  server.chats = [
    chat('trip'),
    chat('dm-ann', { kind: 'direct', direct_with: ANN }),
    chat('loud', { notify: 'all' }),
  ]
  hideTab(true)
  await boot()
})

afterEach(() => {
  server.socket.handlers.onDown({ code: 4401 }, 1)
  hideTab(false)
})

describe('renaming a group', () => {
  it("takes the server's answer for the one who renamed it", async () => {
    await renameChat('trip', 'Trip planning')
    expect(server.calls).toEqual(['rename trip'])
    expect(room('trip').name).toBe('Trip planning')
  })

  it('shows a rename by someone else as it arrives, and an empty name clears it', () => {
    frame({ type: 'renamed', uri: 'trip', seq: 9, name: 'Trip', user: ANN })
    expect(room('trip').name).toBe('Trip')
    frame({ type: 'renamed', uri: 'trip', seq: 10, name: '', user: ANN })
    expect(room('trip').name).toBe(null)
  })

  it('ignores a rename of a chat the tab does not hold', () => {
    frame({ type: 'renamed', uri: 'elsewhere', seq: 3, name: 'x', user: ANN })
    expect(store.rooms.map((r) => r.name)).toEqual([null, null, null])
  })
})

describe('direct chats', () => {
  it('open the chat the server gives, without a second copy in the list', async () => {
    expect(await openDirect('ann')).toBe('dm-ann')
    expect(await openDirect('ann')).toBe('dm-ann')
    expect(store.rooms.filter((r) => r.uri === 'dm-ann')).toHaveLength(1)
  })

  it('are added to the list when new', async () => {
    server.chats = server.chats.filter((c) => c.uri !== 'dm-ann')
    store.rooms = store.rooms.filter((r) => r.uri !== 'dm-ann')
    server.chats.push(chat('dm-ann', { kind: 'direct', direct_with: ANN }))
    await openDirect('ann')
    expect(room('dm-ann').direct_with).toEqual(ANN)
  })
})

describe('a chat someone else made with me', () => {
  it('appears in the list as the server tells of it, once', () => {
    const summary = chat('dm-new', { kind: 'direct', direct_with: ANN, members: [ANN, ME] })
    frame({ type: 'chat', uri: 'dm-new', chat: summary })
    frame({ type: 'chat', uri: 'dm-new', chat: summary })
    expect(store.rooms.filter((r) => r.uri === 'dm-new')).toHaveLength(1)
    expect(store.rooms[0].uri).toBe('dm-new')
  })
})

describe('notification levels', () => {
  it('chime for every message at "all"', () => {
    frame(message('loud'))
    expect(server.chimes).toBe(1)
  })

  it('keep a muted chat silent and out of the title, but count its unread', async () => {
    await setNotifyLevel('trip', 'muted')
    frame(message('trip', atMe))
    expect(server.chimes).toBe(0)
    expect(room('trip').unread).toBe(1)
    expect(room('trip').mentions).toBe(1)
    expect(titleCounts(store.rooms)).toEqual({ count: 0, mentions: 0 })
  })

  it('let only mentions of me through at "mentions", and count them apart', async () => {
    await setNotifyLevel('trip', 'mentions')
    frame(message('trip'))
    expect(server.chimes).toBe(0)
    expect(titleCounts(store.rooms)).toEqual({ count: 0, mentions: 0 })
    frame(message('trip', atMe))
    expect(server.chimes).toBe(1)
    expect(room('trip').unread).toBe(2)
    expect(titleCounts(store.rooms)).toEqual({ count: 1, mentions: 1 })
  })

  it('let every direct message through at "mentions"', async () => {
    await setNotifyLevel('dm-ann', 'mentions')
    frame(message('dm-ann'))
    expect(server.chimes).toBe(1)
    expect(titleCounts(store.rooms)).toEqual({ count: 1, mentions: 0 })
  })

  it('go back to what they were when the server refuses the change', async () => {
    server.refuse = 'No.'
    await expect(setNotifyLevel('trip', 'muted')).rejects.toThrow('No.')
    expect(room('trip').notify).toBe('all')
  })
})

describe('display names', () => {
  it('name who is typing, and the message they send ends it', () => {
    frame({ type: 'typing', uri: 'trip', user: ANN })
    expect(Object.keys(store.typing.trip)).toEqual(['Ann A.'])
    frame(message('trip'))
    expect(store.typing.trip).toEqual({})
  })
})

describe('the profile', () => {
  it('shows my new display name at once, in my own entries too', async () => {
    store.details.trip = {
      members: [
        { ...ME, online: true },
        { ...ANN, online: false },
      ],
    }
    await updateProfile({ display_name: 'Me M.' })
    expect(store.me.display_name).toBe('Me M.')
    expect(store.details.trip.members.map((m) => m.display_name)).toEqual(['Me M.', 'Ann A.'])
    expect(room('trip').members[0].display_name).toBe('Me M.')
  })
})
