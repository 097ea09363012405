import { describe, expect, it } from 'vitest'
import { refusalText, unsentKey, unsentToRestore, unsentToSave } from './unsent.js'
import { addMessage, addPending, createRoomLog } from './messageLog.js'

const ann = { id: 2, username: 'ann' }
const send = (clientId, uri = 'general') => ({
  client_id: clientId,
  uri,
  user: ann,
  message: `text of ${clientId}`,
  created_at: '2026-01-01T10:00:00Z',
})

describe('unsent messages', () => {
  it('keeps one list per user', () => {
    expect(unsentKey(2)).not.toBe(unsentKey(3))
  })

  it('saves every waiting send of every room, without its status', () => {
    const general = createRoomLog()
    const other = createRoomLog()
    addPending(general, send('c-1'))
    addPending(other, send('c-2', 'other'))
    addMessage(general, { ...send('c-0'), id: 9 })
    expect(unsentToSave({ general, other })).toEqual([send('c-1'), send('c-2', 'other')])
  })

  it('keeps the message a waiting reply answers', () => {
    const log = createRoomLog()
    const quote = { id: 4, user: ann, excerpt: 'where?', deleted: false }
    addPending(log, { ...send('c-1'), reply_to: quote })
    expect(unsentToSave({ general: log })).toEqual([{ ...send('c-1'), reply_to: quote }])
  })

  it('restores only entries that can be resent', () => {
    const saved = [send('c-1'), null, 'junk', { uri: 'general' }, { ...send('c-2'), uri: 5 }]
    expect(unsentToRestore(saved)).toEqual([send('c-1')])
    expect(unsentToRestore({ not: 'a list' })).toEqual([])
    expect(unsentToRestore(null)).toEqual([])
  })

  it("words the server's reason for refusing a send", () => {
    expect(refusalText('Too long.')).toBe('Too long.')
    expect(refusalText({ text: ['Too long.', 'Really.'], uri: ['No such chat.'] })).toBe(
      'Too long. Really. No such chat.',
    )
    expect(refusalText({})).toBe('The message was refused.')
    expect(refusalText(undefined)).toBe('The message was refused.')
  })
})
