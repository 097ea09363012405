import { describe, expect, it } from 'vitest'
import { applyRead, countArrival, mergeSummary, trackUnread } from './unread.js'

const ME = 1
const msg = (id, userId = 2) => ({ id, user: { id: userId, username: `u${userId}` } })
const summary = (extra = {}) =>
  trackUnread({ uri: 'general', unread: 2, last_read_id: 3, last_message: msg(5), ...extra })

describe('unread counts', () => {
  it("start from the server's count and take its newest message as counted", () => {
    const room = summary()
    expect(room.unread).toBe(2)
    expect(room.counted_through).toBe(5)
    expect(trackUnread({ uri: 'x', last_message: null }).counted_through).toBe(0)
  })

  it("count a new message by someone else once, and never one's own", () => {
    const room = summary()
    expect(countArrival(room, msg(6), ME)).toBe(true)
    expect(countArrival(room, msg(6), ME)).toBe(false)
    expect(countArrival(room, msg(7, ME), ME)).toBe(false)
    expect(room.unread).toBe(3)
    expect(room.counted_through).toBe(7)
  })

  it('do not count messages the server already counted (a resume replays them)', () => {
    const room = summary()
    expect(countArrival(room, msg(4), ME)).toBe(false)
    expect(countArrival(room, msg(5), ME)).toBe(false)
    expect(room.unread).toBe(2)
  })

  it('do not count a message at or before the read marker', () => {
    const room = trackUnread({ uri: 'g', unread: 0, last_read_id: 9, last_message: msg(5) })
    expect(countArrival(room, msg(8), ME)).toBe(false)
    expect(room.unread).toBe(0)
  })

  it('drop to zero when read up to the newest message', () => {
    const room = summary()
    countArrival(room, msg(6), ME)
    expect(applyRead(room, 6, [], ME)).toBe(true)
    expect(room.unread).toBe(0)
    expect(room.last_read_id).toBe(6)
  })

  it('keep the messages after a marker that stopped short of the newest', () => {
    const room = summary()
    const held = [msg(4), msg(5), msg(6), msg(7, ME), msg(8)]
    for (const m of held) countArrival(room, m, ME)
    expect(room.unread).toBe(4)
    applyRead(room, 6, held, ME)
    expect(room.unread).toBe(1)
  })

  it('never move a read marker back', () => {
    const room = summary()
    applyRead(room, 5, [], ME)
    expect(applyRead(room, 4, [msg(5)], ME)).toBe(false)
    expect(applyRead(room, 'x', [], ME)).toBe(false)
    expect(room.last_read_id).toBe(5)
    expect(room.unread).toBe(0)
  })

  it('never grow when the tab holds fewer messages than the server counted', () => {
    const room = trackUnread({ uri: 'g', unread: 1, last_read_id: 0, last_message: msg(9) })
    applyRead(room, 2, [msg(3), msg(4), msg(9)], ME)
    expect(room.unread).toBe(1)
  })

  it("keep the tab's own count when a later summary of the chat arrives", () => {
    const room = summary()
    countArrival(room, msg(6), ME)
    mergeSummary(
      room,
      { uri: 'general', unread: 7, last_read_id: 3, last_message: msg(6), member_count: 4 },
      [],
      ME,
    )
    expect(room.unread).toBe(3)
    expect(room.member_count).toBe(4)
    mergeSummary(room, { uri: 'general', unread: 0, last_read_id: 6, last_message: msg(6) }, [], ME)
    expect(room.unread).toBe(0)
  })
})

describe('mentions of me among the unread', () => {
  const mention = (id, userId = 2) => ({
    ...msg(id, userId),
    mentions: [{ user: ME, start: 0, length: 3 }],
  })

  it("start from the server's count", () => {
    expect(summary({ mentions: 1 }).mentions).toBe(1)
    expect(summary().mentions).toBe(0)
  })

  it('count a new message that mentions me, once', () => {
    const room = summary()
    countArrival(room, mention(6), ME)
    countArrival(room, mention(6), ME)
    countArrival(room, msg(7), ME)
    expect(room.unread).toBe(4)
    expect(room.mentions).toBe(1)
  })

  it('do not count my own message mentioning myself, nor one already read', () => {
    const room = summary()
    countArrival(room, mention(6, ME), ME)
    const read = trackUnread({ uri: 'g', unread: 0, last_read_id: 9, last_message: msg(5) })
    countArrival(read, mention(8), ME)
    expect(room.mentions).toBe(0)
    expect(read.mentions).toBe(0)
  })

  it('drop to zero when read to the newest message, and keep those after a shorter read', () => {
    const room = summary()
    const held = [mention(6), msg(7), mention(8)]
    for (const m of held) countArrival(room, m, ME)
    expect(room.mentions).toBe(2)
    applyRead(room, 6, held, ME)
    expect(room.mentions).toBe(1)
    applyRead(room, 8, held, ME)
    expect(room.mentions).toBe(0)
  })

  it("keep the tab's own count when a later summary arrives", () => {
    const room = summary()
    countArrival(room, mention(6), ME)
    mergeSummary(room, { uri: 'general', unread: 0, mentions: 0, last_read_id: 3 }, [], ME)
    expect(room.mentions).toBe(1)
  })
})
