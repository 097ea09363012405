// Reactions as the message list shows them: one chip per emoji, in the order each was
// first used, saying how many reacted, whether I did, and who (by name).

// The quick row offered before the full picker.
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🎉']

// How a person is called in the app: their display name where they set one, else their
// username (the unique handle).
export function personName(user) {
  if (!user) return 'someone'
  return user.display_name || user.username || 'someone'
}

// "alice", "alice and bob", "alice, bob and carol".
export function nameList(names) {
  if (names.length <= 1) return names.join('')
  return `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`
}

// `people` maps user ids to user objects (the room's members and the authors the tab
// has seen); someone no longer known is "someone".
export function reactionChips(reactions, meId, people = new Map()) {
  if (!Array.isArray(reactions)) return []
  return reactions
    .filter((r) => r && typeof r.emoji === 'string' && Array.isArray(r.users) && r.users.length)
    .map((r) => {
      const names = r.users.map((id) => personName(people.get(id)))
      const count = r.users.length
      const who = nameList(names)
      return {
        emoji: r.emoji,
        count,
        mine: r.users.includes(meId),
        names,
        label: `${r.emoji} ${count} ${count === 1 ? 'reaction' : 'reactions'}, by ${who}`,
        title: `${who} reacted with ${r.emoji}`,
      }
    })
}

// What a click on a chip asks for: taking mine back, or adding mine.
export function chipToggle(chip) {
  return { emoji: chip.emoji, on: !chip.mine }
}
