import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import { defineComponent, h } from 'vue'
import MessageComposer from './MessageComposer.vue'
import { useUploads } from '../composables/useUploads.js'
import { ApiError } from '../lib/api.js'

const settle = () => new Promise((resolve) => setTimeout(resolve))

// A composer whose uploads wait until the test answers them.
function composer() {
  const calls = []
  const sent = []
  function upload(uri, file, name) {
    const call = { name }
    const promise = new Promise((resolve, reject) => Object.assign(call, { resolve, reject }))
    calls.push(call)
    return { promise, abort: () => call.reject(new Error('aborted')) }
  }
  const Chat = defineComponent({
    setup() {
      const uploads = useUploads(() => 'room', { upload })
      return () =>
        h(MessageComposer, {
          uploads,
          onSend: (text, files = []) => sent.push([text, files.map((f) => f.id)]),
        })
    },
  })
  const wrapper = mount(Chat, { attachTo: document.body })
  return { wrapper, calls, sent }
}

function paste(wrapper, files) {
  const event = new Event('paste', { bubbles: true, cancelable: true })
  event.clipboardData = { files, types: ['Files'] }
  wrapper.get('textarea').element.dispatchEvent(event)
  return event
}

describe('MessageComposer with files', () => {
  it('has an "Attach files" button for a hidden multiple file input', () => {
    const { wrapper } = composer()
    expect(wrapper.find('button[aria-label="Attach files"]').exists()).toBe(true)
    const input = wrapper.get('input[type="file"]')
    expect(input.attributes('multiple')).toBeDefined()
    wrapper.unmount()
  })

  it('attaches pasted files, shows their progress and sends once they are uploaded', async () => {
    const { wrapper, calls, sent } = composer()
    const event = paste(wrapper, [new File(['x'], 'shot.png', { type: 'image/png' })])
    expect(event.defaultPrevented).toBe(true)
    await settle()
    expect(calls.map((c) => c.name)).toEqual(['shot.png'])
    expect(wrapper.find('progress[aria-label="Upload of shot.png"]').exists()).toBe(true)
    expect(wrapper.find('button[aria-label="Cancel upload of shot.png"]').exists()).toBe(true)

    // Send pressed while it uploads waits for it, caption and all.
    await wrapper.get('textarea').setValue('look')
    await wrapper.get('form').trigger('submit')
    expect(sent).toEqual([])
    expect(wrapper.text()).toContain('Sends when the files finish uploading.')
    calls[0].resolve({ id: 5, name: 'shot.png' })
    await settle()
    expect(sent).toEqual([['look', [5]]])
    expect(wrapper.get('textarea').element.value).toBe('')
    expect(wrapper.find('.uploads').exists()).toBe(false)
    wrapper.unmount()
  })

  it('sends files without text', async () => {
    const { wrapper, calls, sent } = composer()
    paste(wrapper, [new File(['x'], 'a.png', { type: 'image/png' })])
    calls[0].resolve({ id: 9 })
    await settle()
    await wrapper.get('form').trigger('submit')
    expect(sent).toEqual([['', [9]]])
    wrapper.unmount()
  })

  it('shows the reason an upload failed, offers a retry, and sends nothing', async () => {
    const { wrapper, calls, sent } = composer()
    paste(wrapper, [
      new File(['x'], 'ok.png', { type: 'image/png' }),
      new File(['y'], 'huge.mov', { type: 'video/quicktime' }),
    ])
    await wrapper.get('textarea').setValue('both')
    await wrapper.get('form').trigger('submit')
    calls[0].resolve({ id: 1 })
    calls[1].reject(new ApiError(413, { detail: 'The file is over 1 MB.' }))
    await settle()
    expect(sent).toEqual([])
    expect(wrapper.get('[role="alert"]').text()).toBe('The file is over 1 MB.')
    expect(wrapper.text()).toContain('Not sent: a file did not upload.')
    await wrapper.get('button[aria-label="Retry upload of huge.mov"]').trigger('click')
    expect(calls).toHaveLength(3)
    calls[2].resolve({ id: 2 })
    await settle()
    // Retrying does not send by itself: the person presses Send again.
    expect(sent).toEqual([])
    await wrapper.get('form').trigger('submit')
    expect(sent).toEqual([['both', [1, 2]]])
    wrapper.unmount()
  })

  it('leaves a paste that has text as text', () => {
    const { wrapper, calls } = composer()
    const event = new Event('paste', { bubbles: true, cancelable: true })
    event.clipboardData = { files: [new File(['x'], 'cells.png')], types: ['text/plain', 'Files'] }
    wrapper.get('textarea').element.dispatchEvent(event)
    expect(event.defaultPrevented).toBe(false)
    expect(calls).toEqual([])
    wrapper.unmount()
  })
})
