import { describe, expect, it } from 'vitest'
import { insertMention, mentionAt, mentionsMe, messageParts, suggestMembers } from './mentions.js'

const alice = { id: 1, username: 'alice', display_name: '' }
const bob = { id: 2, username: 'bob', display_name: 'Bob B.' }
const albert = { id: 3, username: 'albert', display_name: '' }
const carol = { id: 4, username: 'carol', display_name: 'Al Carol' }
const people = new Map([alice, bob, albert, carol].map((p) => [p.id, p]))

describe('mentionAt', () => {
  it('finds the mention being typed before the caret', () => {
    expect(mentionAt('@', 1)).toEqual({ start: 0, query: '' })
    expect(mentionAt('hi @al', 6)).toEqual({ start: 3, query: 'al' })
    expect(mentionAt('(@bo', 4)).toEqual({ start: 1, query: 'bo' })
    expect(mentionAt('hi @al and more', 6)).toEqual({ start: 3, query: 'al' })
  })

  it('is not fooled by e-mail addresses, spaces or a caret elsewhere', () => {
    expect(mentionAt('mail me@box', 11)).toBe(null)
    expect(mentionAt('@al ice', 7)).toBe(null)
    expect(mentionAt('hello', 5)).toBe(null)
    expect(mentionAt('@alice', 0)).toBe(null)
  })
})

describe('suggestMembers', () => {
  it('offers those whose name starts with the query first, then those containing it', () => {
    const members = [alice, bob, albert, carol]
    expect(suggestMembers(members, 'al', 1).map((m) => m.username)).toEqual(['albert', 'carol'])
    expect(suggestMembers(members, 'AL', 1).map((m) => m.username)).toEqual(['albert', 'carol'])
    expect(suggestMembers(members, 'b', 1).map((m) => m.username)).toEqual(['bob', 'albert'])
  })

  it('matches display names, never offers me, and keeps to the limit', () => {
    expect(suggestMembers([alice, bob], 'bob b', 1).map((m) => m.username)).toEqual(['bob'])
    expect(suggestMembers([alice, bob], '', 1).map((m) => m.username)).toEqual(['bob'])
    expect(suggestMembers([alice, bob, albert, carol], '', 99, 2)).toHaveLength(2)
  })
})

describe('insertMention', () => {
  it('replaces what was typed with the username and a space', () => {
    expect(insertMention('hi @al', 3, 6, 'alice')).toEqual({ text: 'hi @alice ', caret: 10 })
    expect(insertMention('@b and more', 0, 2, 'bob')).toEqual({ text: '@bob and more', caret: 5 })
    expect(insertMention('@al|ice!', 0, 3, 'alice').text).toBe('@alice |ice!')
    expect(insertMention('x @alx rest', 2, 4, 'alice').text).toBe('x @alice rest')
  })
})

describe('messageParts', () => {
  it('shows each mention with the current name of its person', () => {
    const text = '@bob look at @alice'
    const parts = messageParts(
      text,
      [
        { user: 2, start: 0, length: 4 },
        { user: 1, start: 13, length: 6 },
      ],
      people,
      1,
    )
    expect(parts).toEqual([
      { type: 'mention', text: '@Bob B.', username: 'bob', user: 2, mine: false },
      { type: 'text', text: ' look at ' },
      { type: 'mention', text: '@alice', username: 'alice', user: 1, mine: true },
    ])
  })

  it('keeps the written name of someone it does not know, and links URLs around mentions', () => {
    const parts = messageParts(
      'ask @zed at https://box.lan/x',
      [{ user: 42, start: 4, length: 4 }],
      people,
      1,
    )
    expect(parts).toEqual([
      { type: 'text', text: 'ask ' },
      { type: 'mention', text: '@zed', username: 'zed', user: 42, mine: false },
      { type: 'text', text: ' at ' },
      { type: 'link', text: 'https://box.lan/x', href: 'https://box.lan/x' },
    ])
  })

  it('counts positions in UTF-16 units, as the server does', () => {
    const text = '😀 @bob'
    expect(text.indexOf('@')).toBe(3)
    const parts = messageParts(text, [{ user: 2, start: 3, length: 4 }], people)
    expect(parts.map((p) => p.text)).toEqual(['😀 ', '@Bob B.'])
  })

  it('leaves out mentions that do not fit the text instead of cutting it wrongly', () => {
    const mentions = [
      { user: 2, start: 0, length: 4 },
      { user: 1, start: 2, length: 4 },
      { user: 1, start: 90, length: 4 },
      { user: 1, start: -1, length: 2 },
    ]
    const parts = messageParts('@bob hi', mentions, people)
    expect(parts.map((p) => p.text).join('')).toBe('@Bob B. hi')
    expect(messageParts('plain', undefined).map((p) => p.text)).toEqual(['plain'])
  })
})

describe('mentionsMe', () => {
  it('says whether a message mentions me', () => {
    expect(mentionsMe({ mentions: [{ user: 1, start: 0, length: 2 }] }, 1)).toBe(true)
    expect(mentionsMe({ mentions: [{ user: 2, start: 0, length: 2 }] }, 1)).toBe(false)
    expect(mentionsMe({}, 1)).toBe(false)
  })
})
