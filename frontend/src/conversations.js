// What a person does to chats as a whole and to their own account: find people, open
// the direct chat with one of them, name a group, choose how a chat notifies them, set
// their display name and change their password. Each answer from the server updates
// the same store the rest of the app reads.
import { api } from './lib/api.js'
import { addRoom, store } from './store.js'

// Everyone on the box whose username or display name contains `q`, by username.
export async function findPeople(q = '') {
  const data = await api.users({ q: q.trim() || undefined, limit: 200 })
  return data.users
}

// The one direct chat of the user and `username`, made on first ask; returns its
// address.
export async function openDirect(username) {
  const wiring = store.wiring
  const summary = await api.direct(username)
  if (store.wiring === wiring) addRoom(summary)
  return summary.uri
}

// Names a group ("" clears the name); everyone in it hears of it by a `renamed` frame.
export async function renameChat(uri, name) {
  const wiring = store.wiring
  const summary = await api.rename(uri, name)
  if (store.wiring === wiring) addRoom(summary)
  return summary
}

// Chooses how the chat notifies the user. Shown at once; put back if the server
// refuses.
export async function setNotifyLevel(uri, level) {
  const wiring = store.wiring
  const room = store.rooms.find((r) => r.uri === uri)
  const before = room?.notify
  if (room) room.notify = level
  try {
    const summary = await api.setNotify(uri, level)
    if (store.wiring === wiring) addRoom(summary)
  } catch (error) {
    if (room && room.notify === level) room.notify = before
    throw error
  }
}

// Sets the user's display name; the user's own entries in member lists follow.
export async function updateProfile(fields) {
  const wiring = store.wiring
  const account = await api.updateMe(fields)
  if (store.wiring !== wiring || !store.me) return account
  store.me = { ...store.me, ...account }
  const mine = (m) => (m.id === store.me.id ? { ...m, display_name: account.display_name } : m)
  for (const detail of Object.values(store.details)) detail.members = detail.members.map(mine)
  for (const room of store.rooms) if (room.members) room.members = room.members.map(mine)
  return account
}

// Changes the password; with `logOutOthers` every other login of the user ends.
export async function changePassword(current, next, logOutOthers) {
  return api.changePassword({
    current_password: current,
    new_password: next,
    log_out_others: !!logOutOthers,
  })
}
