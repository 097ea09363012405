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

describe('MessageComposer mentions and replies', () => {
  const members = [
    { id: 1, username: 'me', display_name: '' },
    { id: 2, username: 'alice', display_name: '' },
    { id: 3, username: 'albert', display_name: 'Al' },
    { id: 4, username: 'bob', display_name: '' },
  ]

  async function typeInto(wrapper, value) {
    const box = wrapper.find('textarea')
    box.element.value = value
    box.element.selectionStart = box.element.selectionEnd = value.length
    await box.trigger('input')
    return box
  }

  it('offers members after an @ in a listbox, and the keyboard picks one', async () => {
    const wrapper = mount(MessageComposer, { props: { members }, attachTo: document.body })
    const box = await typeInto(wrapper, 'hi @al')
    const options = wrapper.findAll('[role=listbox] [role=option]')
    expect(options.map((o) => o.text())).toEqual(['Al@albert', 'alice'])
    expect(box.attributes('aria-activedescendant')).toBe(options[0].attributes('id'))
    expect(options[0].attributes('aria-selected')).toBe('true')
    await box.trigger('keydown', { key: 'ArrowDown' })
    expect(box.attributes('aria-activedescendant')).toBe(options[1].attributes('id'))
    await box.trigger('keydown', { key: 'Enter' })
    expect(box.element.value).toBe('hi @alice ')
    expect(wrapper.find('[role=listbox]').exists()).toBe(false)
    expect(wrapper.emitted('send')).toBeUndefined()
    wrapper.unmount()
  })

  it('closes the list on Escape and picks by click', async () => {
    const wrapper = mount(MessageComposer, { props: { members }, attachTo: document.body })
    const box = await typeInto(wrapper, '@b')
    await box.trigger('keydown', { key: 'Escape' })
    expect(wrapper.find('[role=listbox]').exists()).toBe(false)
    await typeInto(wrapper, '@b and @')
    await wrapper
      .findAll('[role=option]')
      .find((o) => o.text() === 'bob')
      .trigger('click')
    expect(box.element.value).toBe('@b and @bob ')
    wrapper.unmount()
  })

  it('shows the message being answered, and cancels the reply', async () => {
    const replyTo = { id: 5, user: { id: 2, username: 'alice' }, message: 'where is it?' }
    const wrapper = mount(MessageComposer, { props: { replyTo } })
    expect(wrapper.text()).toContain('Replying to alice')
    expect(wrapper.text()).toContain('where is it?')
    await wrapper.find('button[aria-label="Cancel reply"]').trigger('click')
    expect(wrapper.emitted('cancel-reply')).toHaveLength(1)
    await wrapper.find('textarea').trigger('keydown', { key: 'Escape' })
    expect(wrapper.emitted('cancel-reply')).toHaveLength(2)
  })
})
