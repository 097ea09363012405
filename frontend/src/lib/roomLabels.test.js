import { describe, expect, it } from 'vitest'
import { roomFace, roomTitle } from './roomLabels.js'

const ME = { id: 1, username: 'me' }
const ANN = { id: 2, username: 'ann' }
const BEN = { id: 3, username: 'ben' }

function privateChat(members, memberCount = members.length) {
  return { uri: 'x1', name: null, is_private: true, owner: ME, members, member_count: memberCount }
}

describe('room labels', () => {
  it('names a named room after its name, with a hash', () => {
    expect(roomTitle({ uri: 'general', name: 'general', is_private: false }, ME.id)).toBe(
      '#general',
    )
  })

  it('names a private chat after the other members in the preview', () => {
    expect(roomTitle(privateChat([ME, ANN]), ME.id)).toBe('ann')
    expect(roomTitle(privateChat([ME, ANN, BEN], 7), ME.id)).toBe('ann, ben +4')
    expect(roomTitle(privateChat([ME]), ME.id)).toBe('Private chat (only you so far)')
  })

  it('names nothing when there is no chat yet', () => {
    expect(roomTitle(null, ME.id)).toBe('')
  })

  it("shows another member's face, else the owner's", () => {
    expect(roomFace(privateChat([ME, BEN, ANN]), ME.id)).toBe('ben')
    expect(roomFace(privateChat([ME]), ME.id)).toBe('me')
  })
})
