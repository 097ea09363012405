import { describe, expect, it } from 'vitest'
import { chipToggle, nameList, QUICK_REACTIONS, reactionChips } from './reactions.js'

const people = new Map([
  [1, { id: 1, username: 'alice', display_name: '' }],
  [2, { id: 2, username: 'bob', display_name: 'Bob B.' }],
  [3, { id: 3, username: 'carol', display_name: '' }],
])

describe('nameList', () => {
  it('joins names as a sentence does', () => {
    expect(nameList([])).toBe('')
    expect(nameList(['a'])).toBe('a')
    expect(nameList(['a', 'b'])).toBe('a and b')
    expect(nameList(['a', 'b', 'c'])).toBe('a, b and c')
  })
})

describe('reactionChips', () => {
  it('gives one chip per emoji in order, with count, names and whether I reacted', () => {
    const chips = reactionChips(
      [
        { emoji: '👍', users: [1, 2] },
        { emoji: '🎉', users: [3] },
      ],
      3,
      people,
    )
    expect(chips).toEqual([
      {
        emoji: '👍',
        count: 2,
        mine: false,
        names: ['alice', 'Bob B.'],
        label: '👍 2 reactions, by alice and Bob B.',
        title: 'alice and Bob B. reacted with 👍',
      },
      {
        emoji: '🎉',
        count: 1,
        mine: true,
        names: ['carol'],
        label: '🎉 1 reaction, by carol',
        title: 'carol reacted with 🎉',
      },
    ])
  })

  it('names people it does not know as someone and skips empty or broken entries', () => {
    const chips = reactionChips(
      [{ emoji: '😮', users: [99] }, { emoji: '😢', users: [] }, null, { users: [1] }],
      1,
      people,
    )
    expect(chips.map((c) => c.label)).toEqual(['😮 1 reaction, by someone'])
    expect(reactionChips(undefined, 1)).toEqual([])
  })
})

describe('chipToggle', () => {
  it('takes my reaction back, or adds mine to another', () => {
    expect(chipToggle({ emoji: '👍', mine: true })).toEqual({ emoji: '👍', on: false })
    expect(chipToggle({ emoji: '👍', mine: false })).toEqual({ emoji: '👍', on: true })
  })
})

it('offers six common reactions first', () => {
  expect(QUICK_REACTIONS).toEqual(['👍', '❤️', '😂', '😮', '😢', '🎉'])
})
