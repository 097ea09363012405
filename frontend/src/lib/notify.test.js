import { describe, expect, it } from 'vitest'
import { badgeTitle, levelOf, listBadges, shouldChime, titleCounts } from './notify.js'

const ME = 1
const group = (notify, extra = {}) => ({ uri: 'g', kind: 'group', notify, ...extra })
const direct = (notify, extra = {}) => ({ uri: 'd', kind: 'direct', notify, ...extra })
const message = (userId = 2, mentions = []) => ({
  id: 9,
  user: { id: userId, username: `u${userId}` },
  message: 'hi',
  mentions,
})
const mentioning = (...ids) =>
  message(
    2,
    ids.map((user) => ({ user, start: 0, length: 3 })),
  )

describe('notification levels', () => {
  it('default to all messages for a chat that does not say', () => {
    expect(levelOf({ uri: 'x' })).toBe('all')
    expect(levelOf({ uri: 'x', notify: 'loud' })).toBe('all')
    expect(levelOf(group('muted'))).toBe('muted')
  })

  it('chime for every message by someone else at "all", never for my own', () => {
    expect(shouldChime(group('all'), message(), ME)).toBe(true)
    expect(shouldChime(group('all'), message(ME), ME)).toBe(false)
  })

  it('chime at "mentions" only for a mention of me or a direct message', () => {
    expect(shouldChime(group('mentions'), message(), ME)).toBe(false)
    expect(shouldChime(group('mentions'), mentioning(3), ME)).toBe(false)
    expect(shouldChime(group('mentions'), mentioning(ME), ME)).toBe(true)
    expect(shouldChime(direct('mentions'), message(), ME)).toBe(true)
  })

  it('never chime for a muted chat, mention or not', () => {
    expect(shouldChime(group('muted'), message(), ME)).toBe(false)
    expect(shouldChime(group('muted'), mentioning(ME), ME)).toBe(false)
    expect(shouldChime(direct('muted'), message(), ME)).toBe(false)
  })

  it('do not chime without a chat', () => {
    expect(shouldChime(null, message(), ME)).toBe(false)
  })
})

describe("the tab's title", () => {
  it('counts unread messages per level, and mentions apart', () => {
    const rooms = [
      group('all', { unread: 4, mentions: 1 }),
      group('mentions', { unread: 6, mentions: 2 }),
      direct('mentions', { unread: 3, mentions: 0 }),
      group('muted', { unread: 9, mentions: 5 }),
    ]
    expect(titleCounts(rooms)).toEqual({ count: 4 + 2 + 3, mentions: 3 })
  })

  it('counts nothing for muted chats', () => {
    expect(titleCounts([group('muted', { unread: 9, mentions: 2 })])).toEqual({
      count: 0,
      mentions: 0,
    })
  })

  it('never counts more mentions than unread messages', () => {
    expect(titleCounts([group('all', { unread: 1, mentions: 4 })])).toEqual({
      count: 1,
      mentions: 1,
    })
  })

  it('reads "(n) chatbox", with mentions after a dot, and nothing when all is read', () => {
    expect(badgeTitle({ count: 0, mentions: 0 })).toBe('chatbox')
    expect(badgeTitle({ count: 3, mentions: 0 })).toBe('(3) chatbox')
    expect(badgeTitle({ count: 5, mentions: 2 })).toBe('(5 · @2) chatbox')
    expect(badgeTitle({ count: 2, mentions: 2 })).toBe('(@2) chatbox')
    expect(badgeTitle({ count: 150, mentions: 120 })).toBe('(99+ · @99+) chatbox')
    expect(badgeTitle({ count: 1 }, 'box')).toBe('(1) box')
  })
})

describe('the chat list', () => {
  it('shows unread messages loudly for chats whose level lets them through', () => {
    expect(listBadges(group('all', { unread: 2, mentions: 1 }))).toEqual({
      unread: 2,
      mentions: 1,
      quiet: false,
      quietMentions: false,
    })
    expect(listBadges(direct('mentions', { unread: 2 })).quiet).toBe(false)
  })

  it('shows them quietly for a muted chat, and for a group at "mentions only"', () => {
    const muted = listBadges(group('muted', { unread: 2, mentions: 1 }))
    expect(muted).toEqual({ unread: 2, mentions: 1, quiet: true, quietMentions: true })
    const mentionsOnly = listBadges(group('mentions', { unread: 2, mentions: 1 }))
    expect(mentionsOnly.quiet).toBe(true)
    expect(mentionsOnly.quietMentions).toBe(false)
  })
})
