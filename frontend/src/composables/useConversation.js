// What the parts of a message (its actions, quote, reactions, mentions) need from the
// chat around them, handed down by the chat view and the message list instead of
// through every component between.
import { inject, provide } from 'vue'

const CONVERSATION = Symbol('conversation')
const JUMP = Symbol('jump to message')

// Outside a chat (a component test), nothing is allowed and nothing happens.
const NOWHERE = {
  people: new Map(),
  me: null,
  room: null,
  reply() {},
  edit: async () => {},
  remove: async () => {},
  react: async () => {},
  openPhoto() {},
}

// `conversation`: reactive {people (id -> user), me, room, reply(message),
// edit(message, text), remove(message), react(message, emoji, on), openPhoto(file)};
// edit, remove and react return promises that reject with the server's reason.
export function provideConversation(conversation) {
  provide(CONVERSATION, conversation)
}

export function useConversation() {
  return inject(CONVERSATION, NOWHERE)
}

// The message list scrolls to a message (loading older pages if need be) and flashes it.
export function provideJump(jumpTo) {
  provide(JUMP, jumpTo)
}

export function useJump() {
  return inject(JUMP, async () => {})
}
