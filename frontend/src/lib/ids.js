// crypto.randomUUID exists only in secure contexts, and a LAN box is usually plain
// http; getRandomValues works everywhere.
export function clientId() {
  const bytes = crypto.getRandomValues(new Uint8Array(12))
  return 'c-' + Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}
