// "X is typing…": who is typing in each room (`{uri: {username: since}}`), and when to
// tell a room that we are.
import { t } from '../i18n.js'

// How long a name stays up after that person's last typing frame.
export const TYPING_SHOWN_MS = 5000
// One frame every three seconds keeps our name up in the others' five-second window,
// with room for a slow network.
export const TYPING_RESEND_MS = 3000

export function noteTyping(typing, uri, username, since) {
  typing[uri] ??= {}
  typing[uri][username] = since
}

export function stopTyping(typing, uri, username) {
  if (typing[uri]) delete typing[uri][username]
}

export function typingNames(typing, uri) {
  return Object.keys(typing[uri] || {})
}

export function typingLine(names) {
  if (names.length === 0) return ''
  if (names.length === 1) return t('typing.one', { name: names[0] })
  if (names.length === 2) return t('typing.two', { first: names[0], second: names[1] })
  return t('typing.several')
}

// Whether a typing frame for `uri` is due at `now`; if so, notes that it was sent.
// `sentAt` holds when each room last heard from us.
export function typingDue(sentAt, uri, now) {
  if (now - (sentAt[uri] || 0) < TYPING_RESEND_MS) return false
  sentAt[uri] = now
  return true
}
