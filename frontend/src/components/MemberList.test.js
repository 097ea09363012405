import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import MemberList from './MemberList.vue'
import { store } from '../store.js'

const OWNER = { id: 1, username: 'ann', online: true }
const BOB = { id: 2, username: 'bob', online: false }
const CAT = { id: 3, username: 'cat', online: true }

// The names of the list's buttons, as seen by someone signed in as ``me``.
function buttonNames(me) {
  store.me = me
  const wrapper = mount(MemberList, {
    props: { uri: 'abc', members: [OWNER, BOB, CAT], ownerId: OWNER.id },
  })
  const names = wrapper.findAll('button').map((b) => b.attributes('aria-label') || b.text())
  wrapper.unmount()
  store.me = null
  return names
}

describe('MemberList', () => {
  it('gives the owner a Remove control for everyone but themselves', () => {
    expect(buttonNames(OWNER)).toEqual(['Remove bob', 'Remove cat'])
  })

  it('gives other members none', () => {
    expect(buttonNames(BOB)).toEqual([])
  })
})
