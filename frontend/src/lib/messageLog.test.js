import { describe, expect, it } from 'vitest'
import {
  acknowledge,
  addMessage,
  addMessages,
  addPending,
  clearMessages,
  createRoomLog,
  failPending,
  moveLog,
  newestId,
  oldestId,
  visibleMessages,
} from './messageLog.js'

const alice = { id: 1, username: 'alice' }
const msg = (id, extra = {}) => ({
  id,
  uri: 'general',
  user: alice,
  message: `m${id}`,
  client_id: null,
  created_at: '2026-01-01T10:00:00Z',
  ...extra,
})

describe('a room log', () => {
  it('keeps messages in id order whatever order they arrive in', () => {
    const log = createRoomLog()
    addMessages(log, [msg(5), msg(2), msg(9), msg(3)])
    expect(log.messages.map((m) => m.id)).toEqual([2, 3, 5, 9])
    expect(oldestId(log)).toBe(2)
    expect(newestId(log)).toBe(9)
  })

  it('holds each id once when a message is delivered twice', () => {
    const log = createRoomLog()
    expect(addMessage(log, msg(4))).toBe(true)
    expect(addMessage(log, msg(4))).toBe(false)
    expect(addMessages(log, [msg(3), msg(4), msg(5)])).toBe(2)
    expect(log.messages.map((m) => m.id)).toEqual([3, 4, 5])
  })

  it('shows a send as sending, then as sent once acknowledged', () => {
    const log = createRoomLog()
    addMessage(log, msg(1))
    addPending(log, { client_id: 'c-1', uri: 'general', user: alice, message: 'hi' })
    expect(visibleMessages(log).map((m) => [m.id, m.status])).toEqual([
      [1, 'sent'],
      [null, 'sending'],
    ])
    acknowledge(log, { client_id: 'c-1', id: 7, created_at: '2026-01-01T10:01:00Z' })
    expect(log.pending).toEqual([])
    expect(visibleMessages(log).map((m) => [m.id, m.status, m.message])).toEqual([
      [1, 'sent', 'm1'],
      [7, 'sent', 'hi'],
    ])
  })

  it('ends with one message when the broadcast arrives before the ack', () => {
    const log = createRoomLog()
    addPending(log, { client_id: 'c-2', uri: 'general', user: alice, message: 'hi' })
    addMessage(log, msg(8, { client_id: 'c-2', message: 'hi' }))
    acknowledge(log, { client_id: 'c-2', id: 8 })
    expect(visibleMessages(log).map((m) => m.id)).toEqual([8])
  })

  it('ends with one message when the ack arrives before the broadcast', () => {
    const log = createRoomLog()
    addPending(log, { client_id: 'c-3', uri: 'general', user: alice, message: 'hi' })
    acknowledge(log, { client_id: 'c-3', id: 8 })
    addMessage(log, msg(8, { client_id: 'c-3', message: 'hi' }))
    expect(visibleMessages(log).map((m) => m.id)).toEqual([8])
  })

  it('does not queue the same client id twice', () => {
    const log = createRoomLog()
    const entry = { client_id: 'c-4', uri: 'general', user: alice, message: 'once' }
    addPending(log, entry)
    addPending(log, entry)
    expect(log.pending).toHaveLength(1)
  })

  it('marks a refused send as failed without losing its text', () => {
    const log = createRoomLog()
    addPending(log, { client_id: 'c-5', uri: 'general', user: alice, message: 'x' })
    failPending(log, 'c-5', 'No.')
    expect(visibleMessages(log)[0]).toMatchObject({ status: 'failed', error: 'No.', message: 'x' })
  })

  it('keeps unsent messages when the stored ones are cleared for a refetch', () => {
    const log = createRoomLog()
    addMessages(log, [msg(1), msg(2)])
    addPending(log, { client_id: 'c-6', uri: 'general', user: alice, message: 'later' })
    clearMessages(log)
    expect(log.messages).toEqual([])
    expect(log.pending).toHaveLength(1)
  })
})

describe('a chat that moved', () => {
  it('names the new address in its messages and in the sends still waiting', () => {
    const log = createRoomLog()
    addMessages(log, [msg(1), msg(2)])
    addPending(log, { client_id: 'c-1', uri: 'general', message: 'later' })
    moveLog(log, 'elsewhere')
    expect(log.messages.map((m) => m.uri)).toEqual(['elsewhere', 'elsewhere'])
    expect(log.pending.map((p) => [p.uri, p.status])).toEqual([['elsewhere', 'sending']])
  })
})
