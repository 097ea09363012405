// A tiny router over the History API: the server answers every UI path with the same
// page, and the app picks the screen from location.pathname.
import { reactive } from 'vue'

const route = reactive({ name: 'home', path: '/', params: {}, query: {} })

const PATTERNS = [
  ['login', /^\/login\/?$/],
  ['signup', /^\/signup\/?$/],
  ['admin', /^\/admin\/?$/],
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

function sync() {
  Object.assign(route, parseLocation(window.location.pathname, window.location.search))
}

let listening = false

export function chatPath(uri) {
  return `/chats/${encodeURIComponent(uri)}/`
}

export function useRouter() {
  if (!listening) {
    listening = true
    window.addEventListener('popstate', sync)
    sync()
  }
  function push(path) {
    if (path === window.location.pathname + window.location.search) return
    window.history.pushState(null, '', path)
    sync()
  }
  function replace(path) {
    window.history.replaceState(null, '', path)
    sync()
  }
  return { route, push, replace }
}
