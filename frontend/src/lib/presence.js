// Who is online in a room: the server sends the full list once, in "subscribed", then
// only the users whose state changed, each with their state when the batch was sent.
// Applying a batch is therefore idempotent, and order within it does not matter.
export function applyPresence(online, { came_online = [], went_offline = [] }) {
  const ids = new Set(online || [])
  for (const id of came_online) ids.add(id)
  for (const id of went_offline) ids.delete(id)
  return [...ids].sort((a, b) => a - b)
}
