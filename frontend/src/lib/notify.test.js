import { describe, expect, it } from 'vitest'
import {
  badgeTitle,
  filesSummary,
  levelOf,
  listBadges,
  notificationFor,
  notificationState,
  NOTIFICATION_TEXT_LENGTH,
  shouldChime,
  shouldNotify,
  titleCounts,
} from './notify.js'

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

describe('system notifications', () => {
  const alice = { id: 2, username: 'alice', display_name: 'Alice L.' }
  const bob = { id: 3, username: 'bob', display_name: '' }
  const named = { uri: 'g', kind: 'group', is_private: true, name: 'Trip', notify: 'all' }

  it('come for what would chime, but not for the chat on screen', () => {
    expect(shouldNotify(group('all'), message(), ME, null)).toBe(true)
    expect(shouldNotify(group('all'), message(), ME, 'elsewhere')).toBe(true)
    expect(shouldNotify(group('all'), message(), ME, 'g')).toBe(false)
    expect(shouldNotify(direct('mentions'), message(), ME, 'g')).toBe(true)
  })

  it('never come for my own messages or muted chats', () => {
    expect(shouldNotify(group('all'), message(ME), ME, null)).toBe(false)
    expect(shouldNotify(group('muted'), mentioning(ME), ME, null)).toBe(false)
    expect(shouldNotify(direct('muted'), message(), ME, null)).toBe(false)
  })

  it('come at "mentions" only for mentions of me and direct messages', () => {
    expect(shouldNotify(group('mentions'), message(), ME, null)).toBe(false)
    expect(shouldNotify(group('mentions'), mentioning(3), ME, null)).toBe(false)
    expect(shouldNotify(group('mentions'), mentioning(ME), ME, null)).toBe(true)
  })

  it("are titled with the sender's display name, else username, and the chat", () => {
    const m = { id: 7, user: alice, message: '@me the key is under the mat' }
    const note = notificationFor(named, m, ME)
    expect(note.title).toBe('Alice L. in Trip')
    expect(note.options.body).toBe('@me the key is under the mat')
    expect(note.options.tag).toBe('chat:g')
    expect(note.options.data).toEqual({ uri: 'g', id: 7 })
    const fromBob = notificationFor({ uri: 'general', name: 'general' }, { ...m, user: bob }, ME)
    expect(fromBob.title).toBe('bob in #general')
  })

  it('name only the sender for a direct message, or a chat called after them', () => {
    const dm = { uri: 'd', kind: 'direct', direct_with: alice }
    expect(notificationFor(dm, { id: 1, user: alice, message: 'hi' }, ME).title).toBe('Alice L.')
    const pair = { uri: 'p', kind: 'group', is_private: true, name: null, members: [alice] }
    expect(notificationFor(pair, { id: 1, user: alice, message: 'hi' }, ME).title).toBe('Alice L.')
  })

  it('say what a message of files alone carries', () => {
    const photo = { name: 'a.jpg', thumbnail_url: '/t', width: 4, height: 3 }
    const pdf = { name: 'plan.pdf' }
    const body = (attachments) =>
      notificationFor(named, { id: 1, user: bob, message: '', attachments }, ME).options.body
    expect(body([photo])).toBe('sent a photo')
    expect(body([photo, photo])).toBe('sent 2 photos')
    expect(body([pdf])).toBe('sent plan.pdf')
    expect(body([photo, pdf])).toBe('sent 2 files')
    expect(filesSummary([])).toBe('')
  })

  it('shorten long text to one line', () => {
    const long = 'word '.repeat(100)
    const { body } = notificationFor(named, { id: 1, user: bob, message: long }, ME).options
    expect(body.length).toBe(NOTIFICATION_TEXT_LENGTH)
    expect(body.endsWith('…')).toBe(true)
    const lines = notificationFor(named, { id: 1, user: bob, message: 'a\n\nb' }, ME)
    expect(lines.options.body).toBe('a b')
  })

  it('say why they are off: plain http first, then the browser', () => {
    const state = (secure, permission, wanted = false) =>
      notificationState({ secure, permission, wanted })
    expect(state(false, 'default')).toBe('insecure')
    expect(state(false, undefined)).toBe('insecure')
    expect(state(true, undefined)).toBe('unavailable')
    expect(state(true, 'denied', true)).toBe('blocked')
    expect(state(true, 'default', true)).toBe('off')
    expect(state(true, 'granted', false)).toBe('off')
    expect(state(true, 'granted', true)).toBe('on')
  })
})
