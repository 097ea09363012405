// What the service worker does, apart from the `self` it runs in, so that tests can
// drive it with a fake cache and a fake network. sw.js binds it to the worker's events.
//
// - The app shell (the page every UI path gets) and the built assets are stored at
//   install, under a cache named after the build, and the shell is answered from there
//   for the app's own addresses: the app opens at once, even when the box is down (the
//   app then says it cannot reach the box).
// - /api/, /auth/, /ws and everything else the server answers live is never stored:
//   messages, files and sessions always come from the box.
// - Any other page the box serves (such as its HTTPS help) comes from the network; when
//   the box cannot be reached, a stored offline page says so instead of the browser's
//   error page.

export const CACHE_PREFIX = 'chatbox-'
export const SHELL_URL = '/'
export const OFFLINE_URL = '/static/offline.html'

// The paths the web app answers itself (src/router.js); the server gives each the
// same page.
const APP_PATHS = [
  /^\/$/,
  /^\/(?:login|signup|admin|people|profile|search)\/?$/,
  /^\/chats\/[^/]+\/?$/,
]
// What only the live box can answer.
const LIVE = /^\/(?:api|auth|ws|healthz|sw\.js)(?:[/?]|$)/

export function cacheName(version) {
  return `${CACHE_PREFIX}${version}`
}

export function isAppPath(pathname) {
  return APP_PATHS.some((pattern) => pattern.test(pathname))
}

// How the worker answers a request: `null` leaves it to the browser as if there were
// no worker; 'shell', 'page' and 'static' as described above.
export function routeOf({ url, method, mode }, origin) {
  const address = new URL(url)
  if (method !== 'GET' || address.origin !== origin) return null
  if (LIVE.test(address.pathname)) return null
  if (mode === 'navigate') return isAppPath(address.pathname) ? 'shell' : 'page'
  if (address.pathname.startsWith('/static/')) return 'static'
  return null
}

// The chat a notification was about, at its message (as src/router.js writes it).
export function chatAddress({ uri, id } = {}) {
  if (typeof uri !== 'string' || !uri) return SHELL_URL
  const chat = `/chats/${encodeURIComponent(uri)}/`
  return Number.isInteger(id) ? `${chat}?message=${id}` : chat
}

// The worker's behaviour over `caches`, `fetch` and `clients` (the worker's own, or
// fakes), for the build `version` whose files are `precache`.
export function createWorker({ caches, fetch, clients, origin, version, precache }) {
  const current = cacheName(version)

  async function install() {
    const cache = await caches.open(current)
    // Past the browser's HTTP cache, so a new build never stores an old file.
    await cache.addAll(
      precache.map((url) => new Request(new URL(url, origin), { cache: 'reload' })),
    )
  }

  async function activate() {
    const names = await caches.keys()
    const old = names.filter((name) => name.startsWith(CACHE_PREFIX) && name !== current)
    await Promise.all(old.map((name) => caches.delete(name)))
  }

  async function stored(url) {
    const cache = await caches.open(current)
    return cache.match(new URL(url, origin).href)
  }

  async function offlinePage() {
    return (await stored(OFFLINE_URL)) || Response.error()
  }

  async function network(request) {
    try {
      return await fetch(request)
    } catch {
      return null
    }
  }

  // The answer to a request, or null to leave it to the browser. `later` is handed
  // work that may finish after the answer (the event's waitUntil).
  function respond(request, later = () => {}) {
    const route = routeOf(request, origin)
    if (route === 'shell') return shell(request, later)
    if (route === 'page') return page(request)
    if (route === 'static') return asset(request)
    return null
  }

  async function shell(request, later) {
    const page = await stored(SHELL_URL)
    if (!page) return (await network(request)) || offlinePage()
    // The page from the box sets the _xsrf cookie the app sends with every write; a
    // browser that dropped it (it lasts one browser session) gets it again this way.
    const again = new Request(new URL(SHELL_URL, origin), {
      method: 'HEAD',
      credentials: 'same-origin',
    })
    later(network(again))
    return page
  }

  async function page(request) {
    return (await network(request)) || offlinePage()
  }

  async function asset(request) {
    return (await stored(request.url)) || (await network(request)) || Response.error()
  }

  // A click on a notification shown by the worker: back to the app, at that message.
  async function notificationClick(data) {
    const windows = await clients.matchAll({ type: 'window', includeUncontrolled: true })
    const open = windows.find((client) => new URL(client.url).origin === origin)
    if (!open) return clients.openWindow(chatAddress(data))
    await open.focus()
    open.postMessage({ type: 'open-chat', uri: data?.uri, id: data?.id })
    return open
  }

  return { install, activate, respond, notificationClick }
}
