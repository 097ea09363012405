import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import ConfirmButton from './ConfirmButton.vue'

function button(wrapper, name) {
  return wrapper.findAll('button').find((b) => (b.attributes('aria-label') || b.text()) === name)
}

const props = {
  label: 'Remove',
  name: 'Remove bob',
  question: 'Remove bob?',
  confirmLabel: 'Yes, remove bob',
}

describe('ConfirmButton', () => {
  it('acts only once the question is answered yes', async () => {
    const wrapper = mount(ConfirmButton, { props, attachTo: document.body })
    await button(wrapper, 'Remove bob').trigger('click')
    expect(wrapper.emitted('confirm')).toBeUndefined()
    expect(wrapper.find('[role=group]').attributes('aria-label')).toBe('Remove bob?')
    expect(document.activeElement.textContent.trim()).toBe('Yes, remove bob')
    await button(wrapper, 'Yes, remove bob').trigger('click')
    expect(wrapper.emitted('confirm')).toHaveLength(1)
    expect(button(wrapper, 'Remove bob')).toBeTruthy()
    wrapper.unmount()
  })

  it('does nothing on Cancel or Escape, and gives the focus back', async () => {
    const wrapper = mount(ConfirmButton, { props, attachTo: document.body })
    await button(wrapper, 'Remove bob').trigger('click')
    await button(wrapper, 'Cancel').trigger('click')
    await wrapper.vm.$nextTick()
    expect(document.activeElement.getAttribute('aria-label')).toBe('Remove bob')
    await button(wrapper, 'Remove bob').trigger('click')
    await wrapper.find('[role=group]').trigger('keydown', { key: 'Escape' })
    expect(wrapper.find('[role=group]').exists()).toBe(false)
    expect(wrapper.emitted('confirm')).toBeUndefined()
    wrapper.unmount()
  })
})
