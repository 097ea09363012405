// @vitest-environment node
import { describe, expect, it } from 'vitest'
import { cacheName, chatAddress, createWorker, isAppPath, OFFLINE_URL, routeOf } from './worker.js'

const ORIGIN = 'https://box.local:8888'
const PRECACHE = ['/', '/static/assets/index-abc.js', '/static/assets/index-abc.css', OFFLINE_URL]

// The Cache Storage API over maps, enough for the worker.
function fakeCaches(initial = {}) {
  const stores = new Map(Object.entries(initial).map(([name, m]) => [name, new Map(m)]))
  const open = async (name) => {
    if (!stores.has(name)) stores.set(name, new Map())
    const entries = stores.get(name)
    return {
      async addAll(requests) {
        for (const request of requests) entries.set(request.url, await network.fetch(request))
      },
      async match(url) {
        const found = entries.get(url)
        return found ? found.clone() : undefined
      },
    }
  }
  let network = null
  return {
    stores,
    open,
    keys: async () => [...stores.keys()],
    delete: async (name) => stores.delete(name),
    useNetwork(n) {
      network = n
    },
  }
}

// The box on the other end: a page per address, or down.
function fakeNetwork() {
  const asked = []
  const net = {
    up: true,
    asked,
    async fetch(request) {
      asked.push({ url: request.url, method: request.method || 'GET' })
      if (!net.up) throw new TypeError('Failed to fetch')
      return new Response(`from the box: ${new URL(request.url, ORIGIN).pathname}`)
    },
  }
  return net
}

function fakeClients(windows = []) {
  const opened = []
  return {
    opened,
    matchAll: async () => windows,
    openWindow: async (url) => opened.push(url),
  }
}

function windowAt(url) {
  return {
    url,
    focused: false,
    messages: [],
    async focus() {
      this.focused = true
    },
    postMessage(message) {
      this.messages.push(message)
    },
  }
}

async function installed({ windows } = {}) {
  const caches = fakeCaches({ 'chatbox-old': [], 'someone-else': [] })
  const net = fakeNetwork()
  caches.useNetwork(net)
  const clients = fakeClients(windows)
  const worker = createWorker({
    caches,
    fetch: (request) => net.fetch(request),
    clients,
    origin: ORIGIN,
    version: 'v2',
    precache: PRECACHE,
  })
  await worker.install()
  await worker.activate()
  net.asked.length = 0
  return { worker, caches, net, clients }
}

const get = (path, mode = 'cors') => ({ url: ORIGIN + path, method: 'GET', mode })
const navigate = (path) => get(path, 'navigate')

async function answer(worker, request) {
  const later = []
  const response = await worker.respond(request, (work) => later.push(work))
  await Promise.all(later)
  return response
}

describe("the service worker's routes", () => {
  it("answers the app's own pages with the app shell", () => {
    for (const path of ['/', '/login', '/people', '/profile', '/chats/abc/', '/search']) {
      expect(routeOf(navigate(path), ORIGIN)).toBe('shell')
    }
    expect(routeOf(navigate('/chats/abc/?message=5'), ORIGIN)).toBe('shell')
  })

  it('leaves the API, logins, sockets, health and itself to the network, untouched', () => {
    for (const path of ['/api/chats/', '/api/files/1/a.pdf', '/auth/session/', '/ws', '/healthz']) {
      expect(routeOf(get(path), ORIGIN)).toBe(null)
      expect(routeOf(navigate(path), ORIGIN)).toBe(null)
    }
    expect(routeOf(get('/sw.js'), ORIGIN)).toBe(null)
    expect(routeOf({ ...get('/static/x.js'), method: 'POST' }, ORIGIN)).toBe(null)
    expect(routeOf(get('/static/x.js'), 'https://other.example')).toBe(null)
  })

  it("sends other pages of the box to the network, and the box's files to the cache", () => {
    expect(routeOf(navigate('/trust'), ORIGIN)).toBe('page')
    expect(routeOf(navigate('/ca.crt'), ORIGIN)).toBe('page')
    expect(routeOf(get('/static/assets/index-abc.js'), ORIGIN)).toBe('static')
    expect(routeOf(get('/'), ORIGIN)).toBe(null)
  })

  it("knows the app's paths as the router does", () => {
    expect(isAppPath('/chats/a%20b/')).toBe(true)
    expect(isAppPath('/chats/')).toBe(false)
    expect(isAppPath('/chats/a/b/')).toBe(false)
    expect(isAppPath('/nowhere')).toBe(false)
  })
})

describe('the service worker', () => {
  it('stores the shell and the built files under the build, and drops older builds', async () => {
    const { caches } = await installed()
    expect([...caches.stores.keys()].sort()).toEqual([cacheName('v2'), 'someone-else'])
    const stored = [...caches.stores.get(cacheName('v2')).keys()]
    expect(stored).toEqual(PRECACHE.map((path) => ORIGIN + path))
  })

  it('opens the app from the cache, and asks the box for its cookie beside it', async () => {
    const { worker, net } = await installed()
    const response = await answer(worker, navigate('/chats/abc/'))
    expect(await response.text()).toBe('from the box: /')
    expect(net.asked).toEqual([{ url: `${ORIGIN}/`, method: 'HEAD' }])
  })

  it('still opens the app when the box is down', async () => {
    const { worker, net } = await installed()
    net.up = false
    const response = await answer(worker, navigate('/'))
    expect(await response.text()).toBe('from the box: /')
  })

  it('shows the offline page for a page of the box when the box is down', async () => {
    const { worker, net } = await installed()
    expect(await (await answer(worker, navigate('/trust'))).text()).toBe('from the box: /trust')
    net.up = false
    const offline = await answer(worker, navigate('/trust'))
    expect(await offline.text()).toBe(`from the box: ${OFFLINE_URL}`)
  })

  it('serves built files from the cache and others from the box', async () => {
    const { worker, net } = await installed()
    net.up = false
    const js = await answer(worker, get('/static/assets/index-abc.js'))
    expect(await js.text()).toBe('from the box: /static/assets/index-abc.js')
    const missing = await answer(worker, get('/static/assets/index-new.js'))
    expect(missing.type).toBe('error')
    net.up = true
    const fresh = await answer(worker, get('/static/assets/index-new.js'))
    expect(await fresh.text()).toBe('from the box: /static/assets/index-new.js')
  })

  it('never answers or stores the API', async () => {
    const { worker, caches } = await installed()
    expect(worker.respond(get('/api/chats/'))).toBe(null)
    expect(worker.respond(navigate('/api/chats/x/export.json'))).toBe(null)
    expect(caches.stores.get(cacheName('v2')).size).toBe(PRECACHE.length)
  })
})

describe("a click on the worker's notification", () => {
  it('brings the open app forward and has it open the chat', async () => {
    const tab = windowAt(`${ORIGIN}/chats/other/`)
    const { worker, clients } = await installed({ windows: [tab] })
    await worker.notificationClick({ uri: 'abc', id: 42 })
    expect(tab.focused).toBe(true)
    expect(tab.messages).toEqual([{ type: 'open-chat', uri: 'abc', id: 42 }])
    expect(clients.opened).toEqual([])
  })

  it('opens the app at the message when it is not open', async () => {
    const { worker, clients } = await installed({ windows: [windowAt('https://else.example/')] })
    await worker.notificationClick({ uri: 'a b', id: 42 })
    expect(clients.opened).toEqual(['/chats/a%20b/?message=42'])
  })

  it('writes the address as the router does', () => {
    expect(chatAddress({ uri: 'abc', id: 7 })).toBe('/chats/abc/?message=7')
    expect(chatAddress({ uri: 'abc' })).toBe('/chats/abc/')
    expect(chatAddress({})).toBe('/')
  })
})
