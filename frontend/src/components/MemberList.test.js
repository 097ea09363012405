import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import MemberList from './MemberList.vue'
import { store } from '../store.js'

const OWNER = { id: 1, username: 'ann', online: true }
const BOB = { id: 2, username: 'bob', online: false }
const CAT = { id: 3, username: 'cat', online: true }

// The names of the list's buttons, as seen by someone signed in as ``me``.
function buttonNames(me, extra = {}) {
  store.me = me
  const wrapper = mount(MemberList, {
    props: { uri: 'abc', members: [OWNER, BOB, CAT], ownerId: OWNER.id, ...extra },
  })
  const names = wrapper.findAll('button').map((b) => b.attributes('aria-label') || b.text())
  wrapper.unmount()
  store.me = null
  return names
}

describe('MemberList', () => {
  it('gives the owner a Remove control for everyone but themselves', () => {
    expect(buttonNames(OWNER)).toEqual(['Message bob', 'Remove bob', 'Message cat', 'Remove cat'])
  })

  it('gives other members none, only a way to message each other person', () => {
    expect(buttonNames(BOB)).toEqual(['Message ann', 'Message cat'])
  })

  it('offers no messaging inside a direct chat', () => {
    expect(buttonNames(BOB, { canMessage: false })).toEqual([])
  })

  it("shows a member's display name, with the username beside it", () => {
    store.me = OWNER
    const wrapper = mount(MemberList, {
      props: {
        uri: 'abc',
        members: [OWNER, { ...BOB, display_name: 'Bob B.' }],
        ownerId: OWNER.id,
      },
    })
    const names = wrapper.findAll('.name').map((n) => n.text().replace(/\s+/g, ' '))
    wrapper.unmount()
    store.me = null
    expect(names).toEqual(['ann', 'Bob B. @bob'])
  })
})
