import { describe, expect, it } from 'vitest'
import { revealMessage } from './reveal.js'

// A log holding the newest `held` of `total` messages (ids 1..total), paged by `size`.
function room(total, held, size = 10) {
  const log = { messages: [], hasMore: true, loadingOlder: false }
  const all = Array.from({ length: total }, (_, i) => ({ id: i + 1 }))
  log.messages = all.slice(total - held)
  let loads = 0
  const loadOlder = async () => {
    loads += 1
    const oldest = log.messages[0].id
    const page = all.filter((m) => m.id < oldest).slice(-size)
    log.messages = [...page, ...log.messages]
    log.hasMore = log.messages[0].id > 1
  }
  return { log, loadOlder, loads: () => loads }
}

describe('revealMessage', () => {
  it('answers at once for a message the log holds', async () => {
    const { log, loadOlder, loads } = room(100, 20)
    expect(await revealMessage(log, 90, loadOlder)).toBe(true)
    expect(loads()).toBe(0)
  })

  it('loads older pages until the message is there', async () => {
    const { log, loadOlder, loads } = room(100, 20)
    expect(await revealMessage(log, 45, loadOlder)).toBe(true)
    expect(loads()).toBe(4)
    expect(log.messages.some((m) => m.id === 45)).toBe(true)
  })

  it('stops at the beginning of the chat, and after the page limit', async () => {
    const short = room(30, 10)
    expect(await revealMessage(short.log, 0, short.loadOlder)).toBe(false)
    expect(short.loads()).toBe(2)
    const long = room(1000, 10)
    expect(await revealMessage(long.log, 5, long.loadOlder, { maxPages: 3 })).toBe(false)
    expect(long.loads()).toBe(3)
  })

  it('does not look for a message that would be between held ones', async () => {
    const { log, loadOlder, loads } = room(100, 20)
    log.messages = log.messages.filter((m) => m.id !== 85)
    expect(await revealMessage(log, 85, loadOlder)).toBe(false)
    expect(loads()).toBe(0)
  })

  it('gives up when a page cannot be loaded', async () => {
    const { log } = room(100, 20)
    const failing = async () => {
      throw new Error('offline')
    }
    expect(await revealMessage(log, 5, failing)).toBe(false)
  })
})
