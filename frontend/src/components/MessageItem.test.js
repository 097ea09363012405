import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import MessageItem from './MessageItem.vue'

function render(text, extra = {}) {
  return mount(MessageItem, {
    props: {
      message: {
        id: 1,
        user: { id: 2, username: 'bob' },
        message: text,
        created_at: '2026-01-01T10:00:00Z',
        status: 'sent',
        ...extra,
      },
      date: new Date('2026-01-01T10:00:00Z'),
      mine: false,
    },
  })
}

describe('MessageItem', () => {
  it('shows markup as text and creates no element from it', () => {
    const wrapper = render('<img src=x onerror=alert(1)><b>hi</b>')
    expect(wrapper.find('.text').text()).toBe('<img src=x onerror=alert(1)><b>hi</b>')
    expect(wrapper.find('img').exists()).toBe(false)
    expect(wrapper.find('b').exists()).toBe(false)
  })

  it('links URLs in a new tab without leaking the opener or referrer', () => {
    const link = render('look: https://box.lan/a').find('a')
    expect(link.attributes()).toMatchObject({
      href: 'https://box.lan/a',
      target: '_blank',
      rel: 'noopener noreferrer',
    })
  })

  it('offers retry and remove for a send the server refused', async () => {
    const wrapper = mount(MessageItem, {
      props: {
        message: {
          id: null,
          client_id: 'c-1',
          user: { id: 1, username: 'me' },
          message: 'x',
          created_at: '2026-01-01T10:00:00Z',
          status: 'failed',
          error: 'No.',
        },
        date: new Date(),
        mine: true,
      },
    })
    expect(wrapper.text()).toContain('not sent: No.')
    await wrapper.findAll('button')[0].trigger('click')
    expect(wrapper.emitted('retry')).toHaveLength(1)
  })
})
