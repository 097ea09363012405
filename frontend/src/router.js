// A tiny router over the History API: the server answers every UI path with the same
// page, and the app picks the screen from location.pathname. A tab has one address bar,
// so it has one route, which every component reads.
import { reactive } from 'vue'

const PATTERNS = [
  ['login', /^\/login\/?$/],
  ['signup', /^\/signup\/?$/],
  ['admin', /^\/admin\/?$/],
  ['people', /^\/people\/?$/],
  ['profile', /^\/profile\/?$/],
  ['chat', /^\/chats\/([^/]+)\/?$/],
  ['home', /^\/$/],
]

export function parseLocation(pathname, search = '') {
  const query = Object.fromEntries(new URLSearchParams(search))
  for (const [name, pattern] of PATTERNS) {
    const match = pathname.match(pattern)
    if (match) {
      const params = name === 'chat' ? { uri: decodeURIComponent(match[1]) } : {}
      return { name, path: pathname, params, query }
    }
  }
  return { name: 'notFound', path: pathname, params: {}, query }
}

export function chatPath(uri) {
  return `/chats/${encodeURIComponent(uri)}/`
}

// A chat opened at one of its messages (a search result).
export function messagePath(uri, id) {
  return `${chatPath(uri)}?message=${encodeURIComponent(id)}`
}

export const route = reactive(parseLocation(window.location.pathname, window.location.search))

function sync() {
  Object.assign(route, parseLocation(window.location.pathname, window.location.search))
}

// The back and forward buttons change the address without loading a page. Returns the
// function that stops following them.
export function followHistory() {
  sync()
  window.addEventListener('popstate', sync)
  return () => window.removeEventListener('popstate', sync)
}

export function push(path) {
  if (path === window.location.pathname + window.location.search) return
  window.history.pushState(null, '', path)
  sync()
}

export function replace(path) {
  window.history.replaceState(null, '', path)
  sync()
}
