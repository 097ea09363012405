import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import MessageComposer from './MessageComposer.vue'

describe('MessageComposer', () => {
  it('sends on Enter and clears the box', async () => {
    const wrapper = mount(MessageComposer)
    const box = wrapper.find('textarea')
    await box.setValue('hello')
    await box.trigger('keydown', { key: 'Enter' })
    expect(wrapper.emitted('send')).toEqual([['hello']])
    expect(box.element.value).toBe('')
  })

  it('does not send on Shift+Enter, so a message can have several lines', async () => {
    const wrapper = mount(MessageComposer)
    const box = wrapper.find('textarea')
    await box.setValue('line one')
    await box.trigger('keydown', { key: 'Enter', shiftKey: true })
    expect(wrapper.emitted('send')).toBeUndefined()
  })

  it('does not send blank messages', async () => {
    const wrapper = mount(MessageComposer)
    await wrapper.find('textarea').setValue('   ')
    await wrapper.find('form').trigger('submit')
    expect(wrapper.emitted('send')).toBeUndefined()
  })

  it('inserts a picked emoji into the text', async () => {
    const wrapper = mount(MessageComposer, { attachTo: document.body })
    await wrapper.find('textarea').setValue('hi ')
    await wrapper.find('button[aria-label="Insert emoji"]').trigger('click')
    await wrapper.find('button[aria-label="😀"]').trigger('click')
    expect(wrapper.find('textarea').element.value).toBe('hi 😀')
    wrapper.unmount()
  })
})
