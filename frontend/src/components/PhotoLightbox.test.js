import { mount } from '@vue/test-utils'
import { afterEach, describe, expect, it } from 'vitest'
import PhotoLightbox from './PhotoLightbox.vue'

const photos = [1, 2, 3].map((id) => ({
  file: {
    id,
    name: `p${id}.jpg`,
    size: 1000,
    width: 400,
    height: 300,
    url: `/api/files/${id}/p${id}.jpg`,
  },
  message: { id: 10 + id, user: { id: 2, username: 'bob' } },
}))

let wrapper = null
function open(startId = 2) {
  wrapper = mount(PhotoLightbox, { props: { photos, startId }, attachTo: document.body })
  return wrapper
}
afterEach(() => {
  wrapper?.unmount()
  wrapper = null
})

const dialog = () => document.querySelector('[role="dialog"]')
const shown = () => dialog().querySelector('img').getAttribute('src')
const button = (name) => dialog().querySelector(`button[aria-label="${name}"]`)
const key = (k) => document.dispatchEvent(new KeyboardEvent('keydown', { key: k, bubbles: true }))

describe('PhotoLightbox', () => {
  it('is a labelled modal dialog showing the photo chosen', () => {
    open(2)
    expect(dialog().getAttribute('aria-modal')).toBe('true')
    const title = document.getElementById(dialog().getAttribute('aria-labelledby'))
    expect(title.textContent).toBe('p2.jpg')
    expect(dialog().textContent).toContain('Photo 2 of 3')
    expect(shown()).toBe('/api/files/2/p2.jpg')
  })

  it('moves by the buttons and the arrow keys, and stops at the ends', async () => {
    open(2)
    button('Next photo').click()
    await wrapper.vm.$nextTick()
    expect(shown()).toBe('/api/files/3/p3.jpg')
    expect(button('Next photo').disabled).toBe(true)
    key('ArrowLeft')
    await wrapper.vm.$nextTick()
    key('ArrowLeft')
    await wrapper.vm.$nextTick()
    expect(shown()).toBe('/api/files/1/p1.jpg')
    expect(button('Previous photo').disabled).toBe(true)
    key('ArrowRight')
    await wrapper.vm.$nextTick()
    expect(shown()).toBe('/api/files/2/p2.jpg')
  })

  it('closes on Escape and on Close', async () => {
    open()
    key('Escape')
    expect(wrapper.emitted('close')).toHaveLength(1)
    const close = [...dialog().querySelectorAll('button')].find(
      (b) => b.textContent.trim() === 'Close',
    )
    close.click()
    expect(wrapper.emitted('close')).toHaveLength(2)
  })

  it('follows a swipe on a touch screen', async () => {
    open(1)
    const stage = dialog().querySelector('.stage')
    const touch = (type, x) => {
      const event = new Event(type, { bubbles: true })
      event.touches = type === 'touchstart' ? [{ clientX: x, clientY: 100 }] : []
      event.changedTouches = [{ clientX: x, clientY: 100 }]
      stage.dispatchEvent(event)
    }
    touch('touchstart', 300)
    touch('touchend', 100)
    await wrapper.vm.$nextTick()
    expect(shown()).toBe('/api/files/2/p2.jpg')
  })
})
