import { describe, expect, it } from 'vitest'
import { addMessage, createRoomLog, newestId, oldestId } from './messageLog.js'
import { addNewer, holds, placeAround } from './messageWindow.js'

const msg = (id) => ({ id, user: { id: 1 }, message: `m${id}`, created_at: '' })
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => msg(from + i))
const ids = (log) => log.messages.map((m) => m.id)

function loadedLog(from, to) {
  const log = createRoomLog()
  log.messages = range(from, to)
  log.loaded = true
  log.hasMore = true
  return log
}

// Every id between the first and the last held, each once: what "no gaps, no
// duplicates" means for a chat whose ids run 1, 2, 3 …
function unbroken(log) {
  const held = ids(log)
  return held.every((id, i) => i === 0 || id === held[i - 1] + 1)
}

describe('the stretch around a message', () => {
  it('replaces a stretch it does not touch, and knows there is more on both sides', () => {
    const log = loadedLog(951, 1000)
    const generation = log.generation
    placeAround(log, range(476, 525), 1000)
    expect(ids(log)).toEqual(range(476, 525).map((m) => m.id))
    expect(log.hasMore).toBe(true)
    expect(log.hasNewer).toBe(true)
    expect(log.generation).not.toBe(generation)
    expect(holds(log, 500)).toBe(true)
  })

  it('joins a stretch it overlaps, each message once', () => {
    const log = loadedLog(951, 1000)
    log.hasMore = false
    placeAround(log, range(926, 975), 1000)
    expect(oldestId(log)).toBe(926)
    expect(newestId(log)).toBe(1000)
    expect(unbroken(log)).toBe(true)
    expect(log.hasMore).toBe(true)
    expect(log.hasNewer).toBe(false)
  })

  it('does not join stretches that only look adjacent: another chat may sit between', () => {
    const log = loadedLog(951, 1000)
    placeAround(log, range(901, 950), 1000)
    expect(ids(log)).toEqual(range(901, 950).map((m) => m.id))
    expect(log.hasNewer).toBe(true)
  })

  it('reaching the newest message known, has nothing newer to load', () => {
    const log = createRoomLog()
    placeAround(log, range(976, 1000), 1000)
    expect(log.loaded).toBe(true)
    expect(log.hasNewer).toBe(false)
  })

  it('takes the pages in any order of ids', () => {
    const log = createRoomLog()
    placeAround(log, range(10, 20).reverse(), 30)
    expect(ids(log)).toEqual(range(10, 20).map((m) => m.id))
  })

  it('changes nothing for an empty page', () => {
    const log = loadedLog(1, 5)
    expect(placeAround(log, [], 5)).toBe(false)
    expect(ids(log)).toEqual([1, 2, 3, 4, 5])
  })
})

describe('pages after the stretch', () => {
  it('are added below until a short page reaches the end', () => {
    const log = createRoomLog()
    placeAround(log, range(476, 525), 620)
    expect(addNewer(log, range(526, 575), 50)).toBe(50)
    expect(log.hasNewer).toBe(true)
    expect(addNewer(log, range(576, 620), 50)).toBe(45)
    expect(log.hasNewer).toBe(false)
    expect(unbroken(log)).toBe(true)
    expect(ids(log)).toHaveLength(145)
  })

  it('count only what is new when a page overlaps what is held', () => {
    const log = createRoomLog()
    placeAround(log, range(1, 50), 200)
    expect(addNewer(log, range(41, 90), 50)).toBe(40)
    expect(unbroken(log)).toBe(true)
  })
})

describe('live messages while the stretch stops short of the newest', () => {
  it('are not put after a gap, but fetched with the pages after', () => {
    const log = createRoomLog()
    placeAround(log, range(476, 525), 600)
    expect(addMessage(log, msg(601))).toBe(true)
    expect(addMessage(log, msg(601))).toBe(false)
    expect(newestId(log)).toBe(525)
    addNewer(log, range(526, 575), 50)
    addNewer(log, range(576, 601), 50)
    expect(log.hasNewer).toBe(false)
    expect(newestId(log)).toBe(601)
    expect(unbroken(log)).toBe(true)
    // From here on, live messages join the list at once.
    expect(addMessage(log, msg(602))).toBe(true)
    expect(newestId(log)).toBe(602)
  })

  it('leave one more page to load when the last page was read before they were stored', () => {
    const log = createRoomLog()
    placeAround(log, range(476, 525), 540)
    addMessage(log, msg(541))
    addNewer(log, range(526, 540), 50)
    expect(log.hasNewer).toBe(true)
    addNewer(log, range(541, 541), 50)
    expect(log.hasNewer).toBe(false)
    expect(unbroken(log)).toBe(true)
  })

  it('still take the place of their pending send', () => {
    const log = createRoomLog()
    placeAround(log, range(1, 10), 20)
    log.pending.push({ client_id: 'c1', status: 'sending' })
    addMessage(log, { ...msg(21), client_id: 'c1' })
    expect(log.pending).toEqual([])
  })
})
