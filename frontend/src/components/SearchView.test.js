import { flushPromises, mount } from '@vue/test-utils'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

// The server's search, answered by hand: each call takes the next answer given.
const server = vi.hoisted(() => ({ asked: [], answers: [] }))

vi.mock('../lib/api.js', () => ({
  ApiError: class extends Error {},
  api: {
    search: async (params) => {
      server.asked.push(Object.fromEntries(params))
      const answer = server.answers.shift()
      if (answer instanceof Error) throw answer
      return answer
    },
  },
}))

const { default: SearchView } = await import('./SearchView.vue')
const { replace, route } = await import('../router.js')
const { store } = await import('../store.js')

const AMBER = { id: 1, username: 'amber' }

function result(id, text = 'the wifi password') {
  return {
    message: { id, user: AMBER, message: text, created_at: '2026-03-01T10:00:00Z' },
    chat: { uri: 'general', kind: 'room', name: 'general' },
    snippet: [
      { text: 'the ', match: false },
      { text: 'wifi', match: true },
      { text: ' password', match: false },
    ],
  }
}

async function open(path) {
  replace(path)
  const wrapper = mount(SearchView, { attachTo: document.body })
  await flushPromises()
  return wrapper
}

beforeEach(() => {
  server.asked = []
  server.answers = []
  store.me = AMBER
  store.rooms = [{ uri: 'general', name: 'general', is_private: false, members: [AMBER] }]
})

afterEach(() => {
  document.body.innerHTML = ''
  store.me = null
  store.rooms = []
})

describe('SearchView', () => {
  it('asks for what the address says and shows each result with its snippet', async () => {
    server.answers.push({ results: [result(7)], next: null })
    const wrapper = await open('/search?q=wifi&chat=general&has=file')
    expect(server.asked).toEqual([{ q: 'wifi', chat: 'general', has: 'file', limit: '20' }])
    const link = wrapper.get('[data-search-result]')
    expect(link.attributes('href')).toBe('/chats/general/?message=7')
    expect(link.text()).toContain('#general')
    expect(link.findAll('mark').map((m) => m.text())).toEqual(['wifi'])
    expect(wrapper.text()).toContain('1 message, newest first.')
    wrapper.unmount()
  })

  it('puts a filter in the address, which searches again', async () => {
    server.answers.push({ results: [], next: null }, { results: [], next: null })
    const wrapper = await open('/search?q=wifi')
    await wrapper.get('input[type=checkbox]').setValue(true)
    expect(route.query).toEqual({ q: 'wifi', has: 'file' })
    await flushPromises()
    expect(server.asked[1]).toMatchObject({ q: 'wifi', has: 'file' })
    expect(wrapper.text()).toContain('No messages match “wifi” with these filters.')
    wrapper.unmount()
  })

  it('loads more after the cursor, each message once', async () => {
    server.answers.push({ results: [result(9), result(8)], next: '8' })
    server.answers.push({ results: [result(8), result(5)], next: null })
    const wrapper = await open('/search?q=wifi')
    await wrapper.get('.more button').trigger('click')
    await flushPromises()
    expect(server.asked[1]).toMatchObject({ cursor: '8' })
    expect(wrapper.findAll('[data-search-result]')).toHaveLength(3)
    expect(wrapper.find('.more').exists()).toBe(false)
    wrapper.unmount()
  })

  it('says when the search failed, and tries again', async () => {
    server.answers.push(new Error('The chat server cannot be reached.'))
    server.answers.push({ results: [result(3)], next: null })
    const wrapper = await open('/search?q=wifi')
    expect(wrapper.get('[role=alert]').text()).toContain('The chat server cannot be reached.')
    await wrapper.get('[role=alert] button').trigger('click')
    await flushPromises()
    expect(wrapper.findAll('[data-search-result]')).toHaveLength(1)
    wrapper.unmount()
  })

  it('moves between results with the arrow keys', async () => {
    server.answers.push({ results: [result(3), result(2), result(1)], next: null })
    const wrapper = await open('/search?q=wifi')
    const links = wrapper.findAll('[data-search-result]')
    links[0].element.focus()
    await wrapper.get('ol').trigger('keydown', { key: 'ArrowDown' })
    expect(document.activeElement).toBe(links[1].element)
    await wrapper.get('ol').trigger('keydown', { key: 'End' })
    expect(document.activeElement).toBe(links[2].element)
    wrapper.unmount()
  })

  it('asks nothing until there are words', async () => {
    const wrapper = await open('/search')
    expect(server.asked).toEqual([])
    expect(wrapper.text()).toContain('Type in the search box')
    wrapper.unmount()
  })
})
