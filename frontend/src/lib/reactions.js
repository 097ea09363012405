// Reactions as the message list shows them: one chip per emoji, in the order each was
// first used, saying how many reacted, whether I did, and who (by name).

import { t } from '../i18n.js'
import { shownName } from './names.js'

// The quick row offered before the full picker.
export const QUICK_REACTIONS = ['👍', '❤️', '😂', '😮', '😢', '🎉']

// "alice", "alice and bob", "alice, bob and carol".
export function nameList(names) {
  if (names.length <= 1) return names.join('')
  return t('common.andList', {
    first: names.slice(0, -1).join(', '),
    last: names[names.length - 1],
  })
}

// `people` maps user ids to user objects (the room's members and the authors the tab
// has seen); someone no longer known is "someone".
export function reactionChips(reactions, meId, people = new Map()) {
  if (!Array.isArray(reactions)) return []
  return reactions
    .filter((r) => r && typeof r.emoji === 'string' && Array.isArray(r.users) && r.users.length)
    .map((r) => {
      const names = r.users.map((id) => shownName(people.get(id)) || t('reactions.someone'))
      const count = r.users.length
      const who = nameList(names)
      return {
        emoji: r.emoji,
        count,
        mine: r.users.includes(meId),
        names,
        label: t('reactions.label', { emoji: r.emoji, who }, count),
        title: t('reactions.title', { emoji: r.emoji, who }),
      }
    })
}

// What a click on a chip asks for: taking mine back, or adding mine.
export function chipToggle(chip) {
  return { emoji: chip.emoji, on: !chip.mine }
}
