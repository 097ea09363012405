// What the Bots section shows of a bot's webhooks: where a webhook is, the full address
// of an incoming one, and how its deliveries went, from the server's webhook objects
// (docs/bots.md).

// The address an incoming webhook's answer gives ("/hooks/<secret>") as scripts elsewhere
// on the LAN need it: on this page's own origin.
export function hookAddress(path, origin) {
  if (typeof path !== 'string' || !path) return ''
  if (/^https?:\/\//.test(path)) return path
  return `${origin.replace(/\/+$/, '')}${path.startsWith('/') ? '' : '/'}${path}`
}

// The chat a webhook is in, as a short label.
export function hookChat(hook) {
  const chat = hook?.chat
  if (!chat) return ''
  if (chat.kind === 'room') return `#${chat.name || chat.uri}`
  return chat.name || `Private chat ${chat.uri.slice(0, 6)}…`
}

// One line about the last delivery: "healthy", "failing" or "idle", and what to say.
export function deliveryState(hook) {
  if (!hook || hook.direction !== 'out') {
    return { level: 'idle', text: 'Posts to the chat as the bot.' }
  }
  if (!hook.last_attempt_at) return { level: 'idle', text: 'No deliveries yet.' }
  if (!hook.failures && !hook.last_error) {
    return { level: 'healthy', text: `Delivered (HTTP ${hook.last_status}).` }
  }
  const status = hook.last_status ? `HTTP ${hook.last_status}` : 'no answer'
  const count = hook.failures === 1 ? '1 failed attempt' : `${hook.failures} failed attempts`
  return {
    level: 'failing',
    text: `Failing: ${count} (${status})${hook.last_error ? `: ${hook.last_error}` : ''}`,
  }
}

// Only http and https: the server refuses every other scheme, so say so before asking it.
export function isWebhookUrl(text) {
  if (typeof text !== 'string') return false
  try {
    const url = new URL(text.trim())
    return (url.protocol === 'http:' || url.protocol === 'https:') && !!url.hostname
  } catch {
    return false
  }
}
