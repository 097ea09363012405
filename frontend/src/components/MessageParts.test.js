import { mount } from '@vue/test-utils'
import { describe, expect, it, vi } from 'vitest'
import { defineComponent, h, nextTick, reactive } from 'vue'
import MessageItem from './MessageItem.vue'
import { provideConversation } from '../composables/useConversation.js'

const alice = { id: 1, username: 'alice', display_name: '' }
const bob = { id: 2, username: 'bob', display_name: 'Bob B.' }

function message(extra = {}) {
  return {
    id: 7,
    seq: 7,
    user: bob,
    message: 'hi @alice',
    created_at: '2026-01-01T10:00:00Z',
    status: 'sent',
    reply_to: null,
    mentions: [{ user: 1, start: 3, length: 6 }],
    reactions: [],
    edited_at: null,
    deleted: false,
    ...extra,
  }
}

// A message in a chat where I am `me`: what it asks of the chat is recorded.
function render(msg, { me = alice, room = { owner: { id: 3 } }, mine = false } = {}) {
  const asked = []
  const conversation = reactive({
    people: new Map([alice, bob].map((p) => [p.id, p])),
    me,
    room,
    reply: (m) => asked.push(['reply', m.id]),
    edit: vi.fn(async (m, text) => asked.push(['edit', m.id, text])),
    remove: vi.fn(async (m) => asked.push(['remove', m.id])),
    react: vi.fn(async (m, emoji, on) => asked.push(['react', m.id, emoji, on])),
  })
  const Chat = defineComponent({
    setup() {
      provideConversation(conversation)
      return () => h(MessageItem, { message: msg, date: new Date(msg.created_at), mine })
    },
  })
  const wrapper = mount(Chat, { attachTo: document.body })
  return { wrapper, asked, conversation }
}

const button = (wrapper, name) =>
  wrapper.findAll('button').find((b) => (b.attributes('aria-label') || b.text()) === name)

describe('a message with its actions', () => {
  it('offers Reply and React on anyone’s message, Edit and Delete only where allowed', () => {
    const theirs = render(message())
    expect(button(theirs.wrapper, 'Reply')).toBeTruthy()
    expect(button(theirs.wrapper, 'React')).toBeTruthy()
    expect(button(theirs.wrapper, 'Edit')).toBeUndefined()
    expect(button(theirs.wrapper, 'Delete')).toBeUndefined()
    const asOwner = render(message(), { room: { owner: { id: 1 } } })
    expect(button(asOwner.wrapper, 'Delete')).toBeTruthy()
    expect(button(asOwner.wrapper, 'Edit')).toBeUndefined()
    const own = render(message({ user: alice }), { mine: true })
    expect(button(own.wrapper, 'Edit')).toBeTruthy()
    expect(button(own.wrapper, 'Delete')).toBeTruthy()
  })

  it('renders a mention of me with my current name, highlighted', () => {
    const { wrapper } = render(message())
    const mention = wrapper.find('.mention')
    expect(mention.text()).toBe('@alice')
    expect(mention.classes()).toContain('me')
    expect(wrapper.find('article').classes()).toContain('to-me')
  })

  it('shows a tombstone in place of the text, with no actions', () => {
    const { wrapper } = render(message({ deleted: true, message: '', mentions: [] }))
    expect(wrapper.text()).toContain('This message was deleted')
    expect(button(wrapper, 'Reply')).toBeUndefined()
  })

  it('says a message was edited, and when, in its title', () => {
    const { wrapper } = render(message({ edited_at: '2026-01-01T10:05:00Z' }))
    const edited = wrapper.find('.edited')
    expect(edited.text()).toContain('edited')
    expect(edited.attributes('title')).toMatch(/^Edited /)
  })

  it('quotes the message a reply answers, as a button to it', () => {
    const quote = { id: 3, user: bob, excerpt: 'where is the key?', deleted: false }
    const { wrapper } = render(message({ reply_to: quote }))
    const go = button(wrapper, 'Go to the message from Bob B.')
    expect(go.text()).toContain('where is the key?')
    const gone = render(message({ reply_to: { ...quote, excerpt: '', deleted: true } }))
    expect(button(gone.wrapper, 'Go to the message from Bob B.').text()).toContain(
      'Deleted message',
    )
  })

  it('edits inline: Enter saves the new text, Escape cancels', async () => {
    const { wrapper, asked } = render(message({ user: alice, mentions: [] }), { mine: true })
    await button(wrapper, 'Edit').trigger('click')
    const box = wrapper.find('textarea[aria-label="Edit message"]')
    await box.setValue('hi everyone')
    await box.trigger('keydown', { key: 'Enter' })
    await nextTick()
    expect(asked).toEqual([['edit', 7, 'hi everyone']])
    await nextTick()
    expect(wrapper.find('textarea').exists()).toBe(false)
    await button(wrapper, 'Edit').trigger('click')
    await wrapper.find('textarea').setValue('never mind')
    await wrapper.find('textarea').trigger('keydown', { key: 'Escape' })
    expect(wrapper.find('textarea').exists()).toBe(false)
    expect(asked).toHaveLength(1)
  })

  it('keeps the editor open and says why when the server refuses the edit', async () => {
    const { wrapper, conversation } = render(message({ user: alice }), { mine: true })
    conversation.edit.mockRejectedValueOnce(new Error('This message was deleted.'))
    await button(wrapper, 'Edit').trigger('click')
    await wrapper.find('textarea').setValue('too late')
    await wrapper.find('form').trigger('submit')
    await vi.waitFor(() => expect(wrapper.find('[role=alert]').exists()).toBe(true))
    expect(wrapper.find('[role=alert]').text()).toContain('This message was deleted.')
    expect(wrapper.find('textarea').exists()).toBe(true)
  })

  it('reacts from the quick row, and a chip of mine takes my reaction back', async () => {
    const reactions = [
      { emoji: '👍', users: [2, 1] },
      { emoji: '🎉', users: [2] },
    ]
    const { wrapper, asked } = render(message({ reactions }))
    const mine = button(wrapper, '👍 2 reactions, by Bob B. and alice')
    expect(mine.attributes('aria-pressed')).toBe('true')
    expect(mine.attributes('title')).toBe('Bob B. and alice reacted with 👍')
    const theirs = button(wrapper, '🎉 1 reaction, by Bob B.')
    expect(theirs.attributes('aria-pressed')).toBe('false')
    await mine.trigger('click')
    await theirs.trigger('click')
    await button(wrapper, 'React').trigger('click')
    await button(wrapper, 'React with 😮').trigger('click')
    expect(asked).toEqual([
      ['react', 7, '👍', false],
      ['react', 7, '🎉', true],
      ['react', 7, '😮', true],
    ])
  })

  it('says so when a reaction is refused', async () => {
    const { wrapper, conversation } = render(message({ reactions: [{ emoji: '👍', users: [2] }] }))
    conversation.react.mockRejectedValueOnce(new Error('You are sending too fast.'))
    await button(wrapper, '👍 1 reaction, by Bob B.').trigger('click')
    await vi.waitFor(() => expect(wrapper.find('[role=alert]').exists()).toBe(true))
    expect(wrapper.find('[role=alert]').text()).toContain('You are sending too fast.')
  })

  it('asks before deleting', async () => {
    const { wrapper, asked } = render(message({ user: alice }), { mine: true })
    await button(wrapper, 'Delete').trigger('click')
    expect(asked).toEqual([])
    await button(wrapper, 'Delete message').trigger('click')
    expect(asked).toEqual([['remove', 7]])
  })
})
