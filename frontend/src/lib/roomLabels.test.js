import { describe, expect, it } from 'vitest'
import { applyRename, isDirect, isGroup, roomFace, roomTitle } from './roomLabels.js'

const ME = { id: 1, username: 'me', display_name: '' }
const ANN = { id: 2, username: 'ann', display_name: '' }
const BEN = { id: 3, username: 'ben', display_name: 'Ben B.' }

function privateChat(members, memberCount = members.length, extra = {}) {
  return {
    uri: 'x1',
    name: null,
    is_private: true,
    owner: ME,
    members,
    member_count: memberCount,
    ...extra,
  }
}

function direct(other, extra = {}) {
  return privateChat([ME, other], 2, { kind: 'direct', direct_with: other, ...extra })
}

describe('room labels', () => {
  it('names a named room after its name, with a hash', () => {
    expect(
      roomTitle({ uri: 'general', name: 'general', is_private: false, kind: 'room' }, ME.id),
    ).toBe('#general')
    expect(roomTitle({ uri: 'general', name: 'general', is_private: false }, ME.id)).toBe(
      '#general',
    )
  })

  it('names a private chat after the other members in the preview', () => {
    expect(roomTitle(privateChat([ME, ANN]), ME.id)).toBe('ann')
    expect(roomTitle(privateChat([ME, ANN, BEN], 7), ME.id)).toBe('ann, Ben B. +4')
    expect(roomTitle(privateChat([ME]), ME.id)).toBe('Private chat (only you so far)')
  })

  it('names a group by the name its members gave it, else by its members', () => {
    expect(roomTitle(privateChat([ME, ANN], 2, { kind: 'group', name: 'Trip' }), ME.id)).toBe(
      'Trip',
    )
    expect(roomTitle(privateChat([ME, ANN], 2, { kind: 'group', name: null }), ME.id)).toBe('ann')
  })

  it("names a direct chat after the other person's display name, else their username", () => {
    expect(roomTitle(direct(BEN), ME.id)).toBe('Ben B.')
    expect(roomTitle(direct(ANN), ME.id)).toBe('ann')
  })

  it('names a direct chat from its members when the summary lacks the other person', () => {
    expect(roomTitle(direct(ANN, { direct_with: null }), ME.id)).toBe('ann')
  })

  it('names nothing when there is no chat yet', () => {
    expect(roomTitle(null, ME.id)).toBe('')
  })

  it("shows another member's face, else the owner's", () => {
    expect(roomFace(privateChat([ME, BEN, ANN]), ME.id)).toEqual(BEN)
    expect(roomFace(privateChat([ME]), ME.id)).toEqual(ME)
  })

  it("shows the other person's face in a direct chat, even when they are not first", () => {
    const room = direct(BEN, { members: [ANN, ME], owner: ANN })
    expect(roomFace(room, ME.id)).toEqual(BEN)
  })

  it('tells direct chats and groups apart', () => {
    expect(isDirect(direct(ANN))).toBe(true)
    expect(isGroup(direct(ANN))).toBe(false)
    expect(isGroup(privateChat([ME], 1, { kind: 'group' }))).toBe(true)
    expect(isGroup(privateChat([ME]))).toBe(true)
    expect(isGroup({ uri: 'general', is_private: false, kind: 'room' })).toBe(false)
    expect(isGroup(null)).toBe(false)
  })
})

describe('renaming a group', () => {
  it('takes the new name, and an empty one clears it', () => {
    const room = privateChat([ME, ANN], 2, { kind: 'group' })
    expect(applyRename(room, 'Trip planning')).toBe(true)
    expect(roomTitle(room, ME.id)).toBe('Trip planning')
    expect(applyRename(room, '')).toBe(true)
    expect(room.name).toBe(null)
    expect(roomTitle(room, ME.id)).toBe('ann')
  })

  it('changes nothing when told the same name twice, or nothing usable', () => {
    const room = privateChat([ME, ANN], 2, { kind: 'group', name: 'Trip' })
    expect(applyRename(room, 'Trip')).toBe(false)
    expect(applyRename(room, undefined)).toBe(false)
    expect(applyRename(null, 'x')).toBe(false)
    expect(room.name).toBe('Trip')
  })
})
