import { describe, expect, it } from 'vitest'
import {
  noteTyping,
  stopTyping,
  TYPING_RESEND_MS,
  typingDue,
  typingLine,
  typingNames,
} from './typing.js'

describe('who is typing', () => {
  it('lists the people typing in a room, and forgets one who stopped', () => {
    const typing = {}
    noteTyping(typing, 'general', 'ann', 1)
    noteTyping(typing, 'general', 'ben', 2)
    noteTyping(typing, 'other', 'cat', 3)
    expect(typingNames(typing, 'general')).toEqual(['ann', 'ben'])
    stopTyping(typing, 'general', 'ann')
    stopTyping(typing, 'nowhere', 'ann')
    expect(typingNames(typing, 'general')).toEqual(['ben'])
    expect(typingNames(typing, 'nowhere')).toEqual([])
  })

  it('says who is typing in a short line', () => {
    expect(typingLine([])).toBe('')
    expect(typingLine(['ann'])).toBe('ann is typing…')
    expect(typingLine(['ann', 'ben'])).toBe('ann and ben are typing…')
    expect(typingLine(['ann', 'ben', 'cat'])).toBe('Several people are typing…')
  })

  it('tells each room at most once per resend interval that we are typing', () => {
    const sentAt = {}
    const start = 1_000_000
    expect(typingDue(sentAt, 'general', start)).toBe(true)
    expect(typingDue(sentAt, 'general', start + TYPING_RESEND_MS - 1)).toBe(false)
    expect(typingDue(sentAt, 'other', start + 1)).toBe(true)
    expect(typingDue(sentAt, 'general', start + TYPING_RESEND_MS)).toBe(true)
  })
})
