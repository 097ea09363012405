// System notifications in this browser: whether they are on for the person logged in,
// turning them on (the browser's permission is asked only then, after a click), and
// raising one for a message that arrives. Which messages notify is lib/notify.js's
// decision, the same as the chime's.
import { reactive } from 'vue'
import { notificationFor, notificationState, shouldNotify } from './lib/notify.js'
import { load, save } from './lib/storage.js'
import { chatPath, messagePath, push } from './router.js'

// The ids of the people who turned notifications on in this browser: a shared computer
// does not show one person's messages on the screen of the next.
const WANTED_KEY = 'chatbox.notifications'

function notificationApi() {
  return typeof window.Notification === 'function' ? window.Notification : null
}

export const notifications = reactive({
  permission: notificationApi()?.permission,
  wantedBy: load(WANTED_KEY, []),
})

// The permission can change in the browser's site settings while the app is open.
try {
  navigator.permissions
    ?.query({ name: 'notifications' })
    .then((status) => {
      status.onchange = () => {
        notifications.permission = notificationApi()?.permission
      }
    })
    .catch(() => {})
} catch {
  // A browser without the Permissions API: the state is read again on each enable.
}

function wanted(myId) {
  return Array.isArray(notifications.wantedBy) && notifications.wantedBy.includes(myId)
}

function setWanted(myId, on) {
  const others = (notifications.wantedBy || []).filter((id) => id !== myId)
  notifications.wantedBy = on ? [...others, myId] : others
  save(WANTED_KEY, notifications.wantedBy)
}

export function notificationsStatus(myId) {
  return notificationState({
    secure: window.isSecureContext,
    permission: notifications.permission,
    wanted: wanted(myId),
  })
}

// Asks the browser's permission if it was never given, and turns notifications on
// when it is.
export async function enableNotifications(myId) {
  const api = notificationApi()
  if (!api) return
  let permission = api.permission
  // Older Safari answers through a callback and returns nothing.
  if (permission === 'default') permission = (await api.requestPermission()) ?? api.permission
  notifications.permission = permission
  setWanted(myId, permission === 'granted')
}

export function disableNotifications(myId) {
  setWanted(myId, false)
}

// A message reached the tab and was counted as unread: notify of it if the person
// wants that, its chat's level lets it through and they are not looking at that chat.
export function notifyArrival(room, message, myId, openUri) {
  if (notificationsStatus(myId) !== 'on') return
  const lookingAt = !document.hidden && document.hasFocus() ? openUri : null
  if (!shouldNotify(room, message, myId, lookingAt)) return
  const { title, options } = notificationFor(room, message, myId)
  try {
    const shown = new window.Notification(title, options)
    shown.onclick = () => {
      window.focus()
      shown.close()
      openAt(options.data)
    }
  } catch {
    // Chrome on Android shows notifications only through the service worker; its
    // click handler brings the app back and opens the chat (see sw/worker.js).
    navigator.serviceWorker?.ready
      .then((registration) => registration.showNotification(title, options))
      .catch(() => {})
  }
}

// Opens the chat a notification was about, at its message.
export function openAt({ uri, id } = {}) {
  if (typeof uri !== 'string' || !uri) return
  push(Number.isInteger(id) ? messagePath(uri, id) : chatPath(uri))
}
