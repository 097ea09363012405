import { describe, expect, it } from 'vitest'
import {
  appendRooms,
  applyMembership,
  findRoom,
  MEMBERS_PREVIEW,
  memberPreview,
  moveRoom,
  noteLastMessage,
  renameKey,
  unreadTotal,
} from './rooms.js'

const person = (id) => ({ id, username: `user${id}`, first_name: '', last_name: '' })
const ME = person(1)
const ANN = person(2)

function room(uri, extra = {}) {
  return { uri, members: [ME], member_count: 1, last_message: null, unread: 0, ...extra }
}

describe('the chat list', () => {
  it('finds a chat by uri, or answers null', () => {
    const rooms = [room('a'), room('b')]
    expect(findRoom(rooms, 'b')).toBe(rooms[1])
    expect(findRoom(rooms, 'c')).toBe(null)
  })

  it('moves a chat with a newer message to the top', () => {
    const rooms = [room('a'), room('b'), room('c')]
    noteLastMessage(rooms, { id: 5, uri: 'c' })
    expect(rooms.map((r) => r.uri)).toEqual(['c', 'a', 'b'])
    expect(rooms[0].last_message.id).toBe(5)
  })

  it('ignores a message older than the one the chat already shows', () => {
    const rooms = [room('a'), room('b', { last_message: { id: 9, uri: 'b' } })]
    noteLastMessage(rooms, { id: 4, uri: 'b' })
    expect(rooms.map((r) => r.uri)).toEqual(['a', 'b'])
    expect(rooms[1].last_message.id).toBe(9)
  })

  it('ignores a message for a chat it does not hold', () => {
    const rooms = [room('a')]
    noteLastMessage(rooms, { id: 4, uri: 'elsewhere' })
    expect(rooms).toEqual([room('a')])
  })

  it('keeps a chat that moved to a new address in its place, under the new one', () => {
    const rooms = [room('a'), room('old', { unread: 2, last_message: { id: 3, uri: 'old' } })]
    expect(moveRoom(rooms, 'old', 'new')).toBe(rooms[1])
    expect(rooms.map((r) => r.uri)).toEqual(['a', 'new'])
    expect(rooms[1].last_message).toEqual({ id: 3, uri: 'new' })
    expect(rooms[1].unread).toBe(2)
    // Told twice (the answer to the owner's request, then the frame): the second finds nothing.
    expect(moveRoom(rooms, 'old', 'new')).toBe(null)
  })

  it('moves what a map keeps for a chat, and leaves a map without it alone', () => {
    const map = { old: [1], other: [2] }
    renameKey(map, 'old', 'new')
    expect(map).toEqual({ new: [1], other: [2] })
    renameKey(map, 'old', 'new')
    expect(map).toEqual({ new: [1], other: [2] })
  })

  it('puts a further page below, keeping a chat it already holds where it is', () => {
    const rooms = [room('moved-up'), room('a')]
    const added = appendRooms(rooms, [room('b'), room('moved-up', { unread: 9 }), room('c')])
    expect(rooms.map((r) => r.uri)).toEqual(['moved-up', 'a', 'b', 'c'])
    expect(rooms[0].unread).toBe(0)
    expect(added.map((r) => r.uri)).toEqual(['b', 'c'])
  })

  it('adds up the unread counts of every chat', () => {
    expect(unreadTotal([room('a', { unread: 2 }), room('b'), room('c', { unread: 5 })])).toBe(7)
    expect(unreadTotal([])).toBe(0)
  })
})

describe('members', () => {
  it('previews the first few members, without their online flag', () => {
    const all = Array.from({ length: 8 }, (_, i) => ({ ...person(i + 1), online: true }))
    const preview = memberPreview(all)
    expect(preview).toHaveLength(MEMBERS_PREVIEW)
    expect(preview[0]).toEqual(person(1))
  })

  it('counts a newcomer and adds them to the preview and the full list', () => {
    const summary = room('a')
    const detail = { members: [{ ...ME, online: true }] }
    applyMembership(summary, detail, { event: 'joined', user: ANN })
    expect(summary.members).toEqual([ME, ANN])
    expect(detail.members).toEqual([
      { ...ME, online: true },
      { ...ANN, online: false },
    ])
    expect(summary.member_count).toBe(2)
  })

  it('counts a newcomer only once when told twice', () => {
    const summary = room('a')
    applyMembership(summary, null, { event: 'joined', user: ANN })
    applyMembership(summary, null, { event: 'joined', user: ANN })
    expect(summary.member_count).toBe(2)
  })

  it('keeps the preview short but the count true when a chat is full', () => {
    const members = Array.from({ length: MEMBERS_PREVIEW }, (_, i) => person(i + 1))
    const summary = room('a', { members, member_count: 12 })
    applyMembership(summary, null, { event: 'joined', user: person(40) })
    expect(summary.members).toHaveLength(MEMBERS_PREVIEW)
    expect(summary.member_count).toBe(13)
  })

  it('takes a member who left out of both lists, never counting below one', () => {
    const summary = room('a', { members: [ME, ANN], member_count: 2 })
    const detail = { members: [ME, ANN] }
    applyMembership(summary, detail, { event: 'left', user: ANN })
    expect(summary.members).toEqual([ME])
    expect(detail.members).toEqual([ME])
    expect(summary.member_count).toBe(1)
    applyMembership(summary, null, { event: 'left', user: ME })
    expect(summary.member_count).toBe(1)
  })
})
