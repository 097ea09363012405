// The user's profile picture (docs/files.md, "Avatars"): set from an image file or taken
// away. The answer is the account with its new `avatar_url`, which the user's own
// entries in the chat list and member lists take too, so every avatar of theirs in
// this tab changes at once.
import { api } from './lib/api.js'
import { store } from './store.js'

// The server's limit for a picture, so a too-large file is refused before it is sent.
export const MAX_PICTURE_BYTES = 10 * 1024 * 1024
export const PICTURE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif']

function applyAccount(account) {
  if (!store.me) return
  store.me = { ...store.me, ...account }
  const url = account.avatar_url ?? null
  const mine = (m) => (m.id === store.me.id ? { ...m, avatar_url: url } : m)
  for (const detail of Object.values(store.details)) detail.members = detail.members.map(mine)
  for (const room of store.rooms) {
    if (room.members) room.members = room.members.map(mine)
    if (room.owner?.id === store.me.id) room.owner = mine(room.owner)
  }
}

// Why this file cannot be a profile picture, or '' if it can.
// (The server decides the type from the bytes; a file the browser could not name is
// left for it to judge.)
export function pictureProblem(file) {
  if (file.type && !PICTURE_TYPES.includes(file.type)) {
    return 'Choose a JPEG, PNG, WebP or GIF image.'
  }
  if (file.size > MAX_PICTURE_BYTES) return 'Choose an image of at most 10 MB.'
  return ''
}

export async function changePicture(file) {
  const wiring = store.wiring
  const account = await api.setAvatar(file)
  if (store.wiring === wiring) applyAccount(account)
  return account
}

export async function removePicture() {
  const wiring = store.wiring
  const account = await api.removeAvatar()
  if (store.wiring === wiring) applyAccount(account)
  return account
}
