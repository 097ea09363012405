import { describe, expect, it } from 'vitest'
import { addMessages, createRoomLog } from './messageLog.js'
import { applyMessageEvent, applyMessageEvents, EXCERPT_LENGTH } from './messageEvents.js'

const alice = { id: 1, username: 'alice', display_name: '' }
const bob = { id: 2, username: 'bob', display_name: 'Bob B.' }

function message(id, seq, text, extra = {}) {
  return {
    id,
    seq,
    uri: 'general',
    user: alice,
    message: text,
    created_at: '2026-11-21T08:00:00Z',
    reply_to: null,
    mentions: [],
    reactions: [],
    edited_at: null,
    deleted: false,
    ...extra,
  }
}

function logWith(...messages) {
  const log = createRoomLog()
  addMessages(log, messages)
  return log
}

const edited = (seq, target) => ({ type: 'edited', uri: 'general', seq, target })
const deleted = (seq, target) => ({ type: 'deleted', uri: 'general', seq, target, by: alice })
const reacted = (seq, target, emoji = '👍', on = true) => ({
  type: 'reacted',
  uri: 'general',
  seq,
  target,
  user: bob,
  emoji,
  on,
})

const tombstone = (id, seq) => message(id, seq, '', { deleted: true, mentions: [], reactions: [] })

describe('applyMessageEvent', () => {
  it('replaces a held message with the edited one, in place', () => {
    const log = logWith(message(1, 1, 'first'), message(2, 2, 'helo'), message(3, 3, 'last'))
    const changed = applyMessageEvent(
      log,
      edited(4, message(2, 2, 'hello', { edited_at: '2026-11-21T08:01:00Z' })),
    )
    expect(changed.message).toBe('hello')
    expect(log.messages.map((m) => m.message)).toEqual(['first', 'hello', 'last'])
    expect(log.messages[1].edited_at).toBe('2026-11-21T08:01:00Z')
  })

  it('ignores a change to a message the tab does not hold', () => {
    const log = logWith(message(5, 5, 'kept'))
    expect(applyMessageEvent(log, edited(9, message(4, 4, 'elsewhere')))).toBe(null)
    expect(log.messages).toHaveLength(1)
  })

  it('ignores frames that are not message events or carry no target', () => {
    const log = logWith(message(1, 1, 'a'))
    expect(applyMessageEvent(log, { type: 'message', seq: 2, target: message(1, 1, 'x') })).toBe(
      null,
    )
    expect(applyMessageEvent(log, { type: 'edited', seq: 2 })).toBe(null)
    expect(log.messages[0].message).toBe('a')
  })

  it('is idempotent: the same frame twice changes nothing the second time', () => {
    const log = logWith(message(1, 1, 'a'))
    const frame = reacted(2, message(1, 1, 'a', { reactions: [{ emoji: '👍', users: [2] }] }))
    expect(applyMessageEvent(log, frame)).not.toBe(null)
    const after = log.messages[0]
    expect(applyMessageEvent(log, frame)).toBe(null)
    expect(log.messages[0]).toBe(after)
    expect(log.messages[0].reactions).toEqual([{ emoji: '👍', users: [2] }])
  })

  it('never goes back to an older state of the message', () => {
    const log = logWith(message(1, 1, 'v1'))
    applyMessageEvent(log, edited(3, message(1, 1, 'v2', { edited_at: '2026-11-21T08:03:00Z' })))
    const older = edited(2, message(1, 1, 'v1.5', { edited_at: '2026-11-21T08:02:00Z' }))
    expect(applyMessageEvent(log, older)).toBe(null)
    expect(log.messages[0].message).toBe('v2')
  })

  it('keeps a tombstone a tombstone, even against a frame without a number', () => {
    const log = logWith(message(1, 1, 'secret'))
    applyMessageEvent(log, deleted(5, tombstone(1, 1)))
    expect(log.messages[0]).toMatchObject({ deleted: true, message: '' })
    const late = { type: 'edited', target: message(1, 1, 'secret again', { edited_at: 'z' }) }
    expect(applyMessageEvent(log, late)).toBe(null)
    expect(log.messages[0].message).toBe('')
  })

  it('does not apply an event older than the message as the log got it', () => {
    // A history page read after the edit at 7: the edit frame arriving late is older.
    const log = logWith(message(1, 1, 'edited twice', { edited_at: '2026-11-21T09:00:00Z' }))
    log.versions = { 1: 7 }
    const old = edited(6, message(1, 1, 'edited once', { edited_at: '2026-11-21T08:30:00Z' }))
    expect(applyMessageEvent(log, old)).toBe(null)
    expect(log.messages[0].message).toBe('edited twice')
  })

  it('updates the quotes of replies when their original is edited or deleted', () => {
    const quote = { id: 1, user: alice, excerpt: 'where is the key?', deleted: false }
    const log = logWith(
      message(1, 1, 'where is the key?'),
      message(2, 2, 'here', { reply_to: quote }),
    )
    const long = 'x'.repeat(200)
    applyMessageEvent(log, edited(3, message(1, 1, long, { edited_at: 'a' })))
    expect(log.messages[1].reply_to.excerpt).toBe('x'.repeat(EXCERPT_LENGTH))
    applyMessageEvent(log, deleted(4, tombstone(1, 1)))
    expect(log.messages[1].reply_to).toMatchObject({ id: 1, excerpt: '', deleted: true })
  })

  it('leaves quotes alone on a reaction', () => {
    const quote = { id: 1, user: alice, excerpt: 'old quote', deleted: false }
    const log = logWith(message(1, 1, 'new text'), message(2, 2, 're', { reply_to: quote }))
    applyMessageEvent(log, reacted(3, message(1, 1, 'new text', { reactions: [] })))
    expect(log.messages[1].reply_to.excerpt).toBe('old quote')
  })
})

describe('applyMessageEvents (a replay)', () => {
  it('applies reactions in order: added, added by another, taken back', () => {
    const log = logWith(message(1, 1, 'party?'))
    const frames = [
      reacted(2, message(1, 1, 'party?', { reactions: [{ emoji: '🎉', users: [2] }] })),
      reacted(
        3,
        message(1, 1, 'party?', {
          reactions: [
            { emoji: '🎉', users: [2, 3] },
            { emoji: '👍', users: [3] },
          ],
        }),
      ),
      reacted(
        4,
        message(1, 1, 'party?', { reactions: [{ emoji: '👍', users: [3] }] }),
        '🎉',
        false,
      ),
    ]
    applyMessageEvents(log, frames)
    expect(log.messages[0].reactions).toEqual([{ emoji: '👍', users: [3] }])
  })

  it('ends at the newest state whatever order the frames came in', () => {
    const log = logWith(message(1, 1, 'one'), message(2, 2, 'two'))
    const frames = [
      edited(3, message(1, 1, 'one, edited', { edited_at: '2026-11-21T08:03:00Z' })),
      edited(4, message(1, 1, 'one, edited again', { edited_at: '2026-11-21T08:04:00Z' })),
      reacted(5, message(2, 2, 'two', { reactions: [{ emoji: '❤️', users: [2] }] })),
      deleted(6, tombstone(2, 2)),
    ]
    const shuffled = [frames[3], frames[1], frames[0], frames[2]]
    applyMessageEvents(log, shuffled)
    expect(log.messages[0].message).toBe('one, edited again')
    expect(log.messages[1]).toMatchObject({ deleted: true, message: '', reactions: [] })
    // The same replay again (a second resume) changes nothing.
    const before = log.messages.map((m) => ({ ...m }))
    expect(applyMessageEvents(log, frames)).toEqual([])
    expect(log.messages).toEqual(before)
  })

  it('shows a tombstone where a replayed edit already describes the deleted message', () => {
    // "A replayed frame describes the message as it is now."
    const log = logWith(message(1, 1, 'oops'))
    applyMessageEvents(log, [edited(2, tombstone(1, 1)), deleted(3, tombstone(1, 1))])
    expect(log.messages[0]).toMatchObject({ id: 1, deleted: true, message: '' })
    expect(log.messages).toHaveLength(1)
  })
})
