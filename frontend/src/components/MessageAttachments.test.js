import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import { defineComponent, h } from 'vue'
import MessageAttachments from './MessageAttachments.vue'
import { provideConversation } from '../composables/useConversation.js'

const beach = {
  id: 17,
  name: 'beach.jpg',
  size: 482113,
  type: 'image/jpeg',
  width: 1600,
  height: 1200,
  url: '/api/files/17/beach.jpg',
  thumbnail_url: '/api/files/17/thumbnail',
  inline: true,
}
const notes = {
  id: 18,
  name: 'notes.pdf',
  size: 2048,
  type: 'application/pdf',
  url: '/api/files/18/notes.pdf',
  thumbnail_url: null,
  inline: false,
}

describe('MessageAttachments', () => {
  it('reserves a photo’s shape before it loads', () => {
    const wrapper = mount(MessageAttachments, { props: { files: [beach] } })
    const box = wrapper.get('button[aria-label="Open photo beach.jpg"]')
    expect(box.element.style.width).toBe('320px')
    expect(box.element.style.aspectRatio).toBe('320 / 240')
    const img = box.get('img')
    expect(img.attributes('src')).toBe('/api/files/17/thumbnail')
    expect(img.attributes()).toMatchObject({ width: '320', height: '240' })
  })

  it('opens the lightbox at the photo clicked', async () => {
    const opened = []
    const Chat = defineComponent({
      setup() {
        provideConversation({ openPhoto: (file) => opened.push(file.id) })
        return () => h(MessageAttachments, { files: [beach] })
      },
    })
    await mount(Chat).get('button').trigger('click')
    expect(opened).toEqual([17])
  })

  it('offers other files as a download with their name and size', () => {
    const wrapper = mount(MessageAttachments, { props: { files: [notes] } })
    const link = wrapper.get('a')
    expect(link.attributes()).toMatchObject({
      href: '/api/files/18/notes.pdf',
      download: 'notes.pdf',
    })
    expect(link.text()).toContain('notes.pdf')
    expect(link.text()).toContain('2 KB')
    expect(wrapper.find('img').exists()).toBe(false)
  })

  it('plays safe audio inline, and still offers it as a download', () => {
    const song = { id: 19, name: 'song.mp3', size: 10, type: 'audio/mpeg', url: '/s', inline: true }
    const wrapper = mount(MessageAttachments, { props: { files: [song] } })
    expect(wrapper.get('audio').attributes()).toMatchObject({ src: '/s', 'aria-label': 'song.mp3' })
    expect(wrapper.find('a[download="song.mp3"]').exists()).toBe(true)
  })
})
