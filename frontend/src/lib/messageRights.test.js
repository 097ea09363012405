import { describe, expect, it } from 'vitest'
import { mayDelete, mayEdit, mayRespond } from './messageRights.js'

const me = { id: 1, is_admin: false }
const admin = { id: 9, is_admin: true }
const mine = { id: 10, user: { id: 1 }, deleted: false }
const theirs = { id: 11, user: { id: 2 }, deleted: false }
const room = (ownerId) => ({ owner: { id: ownerId } })

describe('message rights', () => {
  it('lets only the author edit', () => {
    expect(mayEdit(mine, me)).toBe(true)
    expect(mayEdit(theirs, me)).toBe(false)
    expect(mayEdit(theirs, admin)).toBe(false)
  })

  it("lets the author, the chat's owner and an administrator delete", () => {
    expect(mayDelete(mine, me, room(2))).toBe(true)
    expect(mayDelete(theirs, me, room(2))).toBe(false)
    expect(mayDelete(theirs, me, room(1))).toBe(true)
    expect(mayDelete(theirs, admin, room(2))).toBe(true)
    expect(mayDelete(theirs, me, null)).toBe(false)
  })

  it('offers nothing on a send still on its way or a deleted message', () => {
    const pending = { id: null, user: { id: 1 } }
    const tombstone = { ...mine, deleted: true }
    for (const message of [pending, tombstone]) {
      expect(mayEdit(message, me)).toBe(false)
      expect(mayDelete(message, admin, room(9))).toBe(false)
      expect(mayRespond(message)).toBe(false)
    }
    expect(mayRespond(theirs)).toBe(true)
  })
})
