// The server's REST API as the web app uses it: the session cookie authenticates, and
// every write carries the _xsrf cookie's value in X-XSRFToken (Tornado's XSRF check).

export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    super(describeError(status, body))
    this.status = status
    this.body = body || {}
    this.retryAfter = retryAfter
  }

  // Messages for one form field, or [] if the server named none for it.
  field(name) {
    const value = this.body[name]
    return Array.isArray(value) ? value : []
  }
}

function describeError(status, body) {
  if (body && typeof body === 'object') {
    if (typeof body.detail === 'string') return body.detail
    if (Array.isArray(body.non_field_errors)) return body.non_field_errors.join(' ')
    const first = Object.values(body).find((v) => Array.isArray(v) && v.length)
    if (first) return first.join(' ')
  }
  if (status === 0) return 'The chat server cannot be reached.'
  return `The server answered ${status}.`
}

export function xsrfToken() {
  const match = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/)
  return match ? decodeURIComponent(match[1]) : ''
}

// A read refused as faster than the user's budget (429) is asked again once the server
// says it fits, this many times and for waits up to this long; then the refusal shows.
export const READ_RETRIES = 3
export const MAX_READ_WAIT_MS = 20000

export async function request(method, path, body, { wait = sleep, retries = READ_RETRIES } = {}) {
  for (;;) {
    try {
      return await requestOnce(method, path, body)
    } catch (error) {
      const ms = (error.retryAfter || 0) * 1000
      const again = method === 'GET' && error.status === 429 && ms <= MAX_READ_WAIT_MS
      if (!again || retries <= 0) throw error
      retries -= 1
      await wait(ms)
    }
  }
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

async function requestOnce(method, path, body) {
  const headers = { Accept: 'application/json' }
  if (method !== 'GET') headers['X-XSRFToken'] = xsrfToken()
  // A file goes as it is, its type in its own Content-Type; anything else as JSON.
  const raw = typeof Blob !== 'undefined' && body instanceof Blob
  if (body !== undefined && !raw) headers['Content-Type'] = 'application/json'
  let response
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined || raw ? body : JSON.stringify(body),
      credentials: 'same-origin',
    })
  } catch {
    throw new ApiError(0, null)
  }
  const text = await response.text()
  let data = null
  if (text) {
    try {
      data = JSON.parse(text)
    } catch {
      data = { detail: text.slice(0, 200) }
    }
  }
  if (!response.ok) {
    const retry = Number(response.headers.get('Retry-After')) || null
    throw new ApiError(response.status, data, retry)
  }
  return data
}

const chat = (uri) => `/api/chats/${encodeURIComponent(uri)}/`
const bot = (username) => `/api/bots/${encodeURIComponent(username)}/`

export const api = {
  me: () => request('GET', '/api/me'),
  signup: (fields) => request('POST', '/auth/users/create/', fields),
  login: (username, password) => request('POST', '/auth/session/', { username, password }),
  logout: () => request('DELETE', '/auth/session/'),
  updateMe: (fields) => request('PATCH', '/api/me/', fields),
  changePassword: (fields) => request('POST', '/api/me/password/', fields),
  setAvatar: (image) => request('PUT', '/api/me/avatar/', image),
  removeAvatar: () => request('DELETE', '/api/me/avatar/'),
  users({ q, limit } = {}) {
    const query = new URLSearchParams()
    if (q) query.set('q', q)
    if (limit) query.set('limit', String(limit))
    return request('GET', `/api/users/?${query}`)
  },
  direct: (username) => request('POST', '/api/direct/', { username }),
  // One page of the chat list; `cursor` is the `next` of the page before.
  chats({ limit, cursor } = {}) {
    const query = new URLSearchParams()
    if (limit) query.set('limit', String(limit))
    if (cursor) query.set('cursor', cursor)
    return request('GET', `/api/chats/?${query}`)
  },
  startPrivate: () => request('POST', '/api/chats/', {}),
  openNamed: (name) => request('POST', '/api/chats/', { name }),
  chat: (uri) => request('GET', chat(uri)),
  join: (uri) => request('PATCH', chat(uri), {}),
  addMember: (uri, username) => request('POST', `${chat(uri)}members/`, { username }),
  removeMember: (uri, username) =>
    request('DELETE', `${chat(uri)}members/${encodeURIComponent(username)}/`),
  changeAddress: (uri) => request('POST', `${chat(uri)}address/`),
  rename: (uri, name) => request('PUT', `${chat(uri)}name/`, { name }),
  setNotify: (uri, level) => request('PUT', `${chat(uri)}notifications/`, { level }),
  history(uri, { before, limit = 50 } = {}) {
    const query = new URLSearchParams({ limit: String(limit) })
    if (before) query.set('before', String(before))
    return request('GET', `${chat(uri)}messages/?${query}`)
  },
  bots: {
    list: () => request('GET', '/api/bots/'),
    create: (fields) => request('POST', '/api/bots/', fields),
    newToken: (username) => request('POST', `${bot(username)}token/`),
    deactivate: (username) => request('DELETE', bot(username)),
    addWebhook: (username, fields) => request('POST', `${bot(username)}webhooks/`, fields),
    removeWebhook: (username, id) => request('DELETE', `${bot(username)}webhooks/${id}/`),
  },
  admin: {
    users: () => request('GET', '/api/admin/users'),
    setActive: (username, active) =>
      request(
        'POST',
        `/api/admin/users/${encodeURIComponent(username)}/${active ? 'activate' : 'deactivate'}`,
      ),
    rename: (username, newName) =>
      request('POST', `/api/admin/users/${encodeURIComponent(username)}/rename`, {
        username: newName,
      }),
    settings: () => request('GET', '/api/admin/settings'),
    saveSettings: (fields) => request('PATCH', '/api/admin/settings', fields),
    resetInvite: () => request('POST', '/api/admin/invite/reset'),
    storage: () => request('GET', '/api/admin/storage/'),
  },
}
