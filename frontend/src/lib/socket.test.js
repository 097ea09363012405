import { describe, expect, it } from 'vitest'
import {
  backoffDelay,
  BASE_DELAY,
  MAX_DELAY,
  createSocket,
  retryDelay,
  socketUrl,
} from './socket.js'

// A stand-in for the browser's WebSocket that the test opens, feeds and closes by hand.
class FakeSocket {
  static all = []
  constructor(url) {
    this.url = url
    this.sent = []
    // The pings that mark the end of each subscribe's replay, kept apart so that the
    // tests of other frames read as the protocol does.
    this.pings = []
    this.closed = null
    FakeSocket.all.push(this)
  }
  send(text) {
    const frame = JSON.parse(text)
    if (frame.type === 'ping' && String(frame.ref).startsWith('caught-up-')) this.pings.push(frame)
    else this.sent.push(frame)
  }
  // The server's answer to every ping so far: the replays before them are complete.
  pong() {
    for (const ping of this.pings.splice(0)) this.receive({ type: 'pong', ref: ping.ref })
  }
  close(code) {
    this.closed = code
  }
  // Test controls
  open() {
    this.onopen?.()
  }
  receive(frame) {
    this.onmessage?.({ data: JSON.stringify(frame) })
  }
  drop(code = 1006) {
    this.onclose?.({ code })
  }
}

function harness(extra = {}) {
  FakeSocket.all = []
  const timers = []
  const frames = []
  const socket = createSocket({
    url: 'ws://box/ws',
    WebSocketImpl: FakeSocket,
    onFrame: (frame) => frames.push(frame),
    setTimer: (fn, ms) => timers.push({ fn, ms }) - 1,
    clearTimer: () => {},
    ...extra,
  })
  const latest = () => FakeSocket.all[FakeSocket.all.length - 1]
  const fireTimer = () => timers[timers.length - 1].fn()
  return { socket, timers, frames, latest, fireTimer }
}

describe('backoffDelay', () => {
  it('grows exponentially and stays within its jitter bounds', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const step = Math.min(MAX_DELAY, BASE_DELAY * 2 ** attempt)
      expect(backoffDelay(attempt, () => 0)).toBe(step / 2)
      expect(backoffDelay(attempt, () => 0.999999)).toBeLessThanOrEqual(step)
      expect(backoffDelay(attempt, () => 0.999999)).toBeGreaterThan(step * 0.99)
    }
    expect(backoffDelay(1, () => 0)).toBe(2 * backoffDelay(0, () => 0))
  })

  it('never exceeds the ceiling however many attempts failed', () => {
    expect(backoffDelay(50, () => 1)).toBe(MAX_DELAY)
  })
})

describe('retryDelay', () => {
  it('waits what a rate_limited refusal says, and nothing for other refusals', () => {
    expect(retryDelay({ code: 'rate_limited', retry_after: 0.5 })).toBe(500)
    expect(retryDelay({ code: 'rate_limited', retry_after: 0 })).toBe(100)
    expect(retryDelay({ code: 'rate_limited' })).toBe(1000)
    expect(retryDelay({ code: 'forbidden', retry_after: 3 })).toBe(null)
  })
})

describe('socketUrl', () => {
  it('uses wss on an https page and ws otherwise', () => {
    expect(socketUrl({ protocol: 'https:', host: 'box:8443' })).toBe('wss://box:8443/ws')
    expect(socketUrl({ protocol: 'http:', host: 'box:8888' })).toBe('ws://box:8888/ws')
  })
})

describe('createSocket', () => {
  it('queues frames until the socket opens, then sends them in order', () => {
    const { socket, latest } = harness()
    socket.connect()
    expect(socket.status.value).toBe('connecting')
    socket.send({ type: 'ping', ref: 1 })
    socket.send({ type: 'ping', ref: 2 })
    expect(latest().sent).toEqual([])
    latest().open()
    expect(socket.status.value).toBe('open')
    expect(latest().sent).toEqual([
      { type: 'ping', ref: 1 },
      { type: 'ping', ref: 2 },
    ])
  })

  it('drops frames sent with sendIfOpen while closed', () => {
    const { socket, latest } = harness()
    socket.connect()
    expect(socket.sendIfOpen({ type: 'typing', uri: 'a' })).toBe(false)
    latest().open()
    expect(latest().sent).toEqual([])
  })

  it('reconnects with growing, jittered delays after the connection drops', () => {
    const { socket, timers, latest, fireTimer } = harness({ random: () => 0.5 })
    socket.connect()
    latest().open()
    for (let attempt = 0; attempt < 4; attempt++) {
      latest().drop()
      expect(socket.status.value).toBe('reconnecting')
      const step = BASE_DELAY * 2 ** attempt
      expect(timers[timers.length - 1].ms).toBe(step * 0.75)
      fireTimer()
      expect(socket.status.value).toBe('connecting')
    }
    expect(FakeSocket.all).toHaveLength(5)
    latest().open()
    latest().drop()
    // A successful open starts the backoff again from the first step.
    expect(timers[timers.length - 1].ms).toBe(BASE_DELAY * 0.75)
  })

  it('resumes each subscribed room after the last message id it saw', () => {
    const { socket, latest, fireTimer, frames } = harness()
    socket.subscribe('general', 10)
    socket.subscribe('fresh')
    socket.connect()
    latest().open()
    expect(latest().sent).toEqual([
      { type: 'subscribe', uri: 'general', after: 10, ref: 'sub-1' },
      { type: 'subscribe', uri: 'fresh', ref: 'sub-2' },
    ])
    latest().receive({ type: 'message', uri: 'general', id: 12, message: 'a' })
    latest().receive({ type: 'message', uri: 'fresh', id: 13, message: 'b' })
    latest().receive({ type: 'message', uri: 'general', id: 15, message: 'c' })
    expect(frames.map((f) => f.id)).toEqual([12, 13, 15])
    latest().drop()
    fireTimer()
    latest().open()
    expect(latest().sent).toEqual([
      { type: 'subscribe', uri: 'general', after: 15, ref: 'sub-3' },
      { type: 'subscribe', uri: 'fresh', after: 13, ref: 'sub-4' },
    ])
  })

  it('follows a room to its new address without a frame, and resumes it there', () => {
    const { socket, latest, fireTimer } = harness()
    socket.subscribe('old', 4)
    socket.connect()
    latest().open()
    latest().receive({ type: 'message', uri: 'old', id: 7, message: 'a' })
    latest().sent = []
    socket.rename('old', 'new')
    socket.rename('old', 'new')
    expect(latest().sent).toEqual([])
    latest().receive({ type: 'message', uri: 'new', id: 9, message: 'b' })
    latest().drop()
    fireTimer()
    latest().open()
    expect(latest().sent).toEqual([{ type: 'subscribe', uri: 'new', after: 9, ref: 'sub-2' }])
  })

  it('subscribes at once to a room added while open', () => {
    const { socket, latest } = harness()
    socket.connect()
    latest().open()
    socket.subscribe('late', 3)
    socket.subscribe('late', 3)
    expect(latest().sent).toEqual([{ type: 'subscribe', uri: 'late', after: 3, ref: 'sub-1' }])
  })

  it('subscribes again once the server says a refused subscribe fits its budget', () => {
    const { socket, timers, latest, frames } = harness()
    socket.subscribe('general', 4)
    socket.connect()
    latest().open()
    const refusal = { type: 'error', code: 'rate_limited', ref: 'sub-1', retry_after: 2.5 }
    latest().receive(refusal)
    expect(frames).toEqual([refusal])
    expect(timers[timers.length - 1].ms).toBe(2500)
    timers[timers.length - 1].fn()
    expect(latest().sent.at(-1)).toEqual({
      type: 'subscribe',
      uri: 'general',
      after: 4,
      ref: 'sub-2',
    })
  })

  it('does not subscribe again after another refusal, or to a room left meanwhile', () => {
    const { socket, timers, latest } = harness()
    socket.subscribe('gone')
    socket.subscribe('private')
    socket.connect()
    latest().open()
    latest().receive({ type: 'error', code: 'forbidden', ref: 'sub-2' })
    latest().receive({ type: 'error', code: 'rate_limited', ref: 'sub-1', retry_after: 1 })
    socket.unsubscribe('gone')
    expect(timers).toHaveLength(1)
    timers[0].fn()
    expect(latest().sent.map((f) => f.type)).toEqual(['subscribe', 'subscribe', 'unsubscribe'])
  })

  it('leaves a retry to the next connection when the socket it was for has dropped', () => {
    const { socket, timers, latest, fireTimer } = harness()
    socket.subscribe('general')
    socket.connect()
    latest().open()
    latest().receive({ type: 'error', code: 'rate_limited', ref: 'sub-1', retry_after: 1 })
    const retry = timers[timers.length - 1]
    latest().drop()
    fireTimer()
    latest().open()
    const sent = latest().sent.length
    retry.fn()
    expect(latest().sent).toHaveLength(sent)
  })

  it('does not reconnect after a deliberate close', () => {
    const { socket, timers, latest } = harness()
    socket.connect()
    latest().open()
    const ws = latest()
    socket.close()
    expect(ws.closed).toBe(1000)
    ws.drop(1000)
    expect(socket.status.value).toBe('closed')
    expect(timers).toHaveLength(0)
    socket.connect()
    expect(FakeSocket.all).toHaveLength(1)
  })

  it('calls onOpen after resubscribing, so unacknowledged sends follow the resume', () => {
    const order = []
    const { socket, latest } = harness({
      onOpen: () => order.push('open'),
    })
    socket.subscribe('general', 1)
    socket.connect()
    const ws = latest()
    const send = ws.send.bind(ws)
    ws.send = (text) => {
      order.push(JSON.parse(text).type)
      send(text)
    }
    ws.open()
    expect(order).toEqual(['subscribe', 'ping', 'open'])
  })
  it('resumes a room by the number of the last event it saw once it has one', () => {
    const { socket, latest, fireTimer, frames } = harness()
    socket.subscribe('general', 10)
    socket.connect()
    latest().open()
    latest().receive({ type: 'subscribed', uri: 'general', latest_id: 12, latest_seq: 20 })
    latest().receive({ type: 'message', uri: 'general', id: 12, seq: 19, message: 'a' })
    latest().receive({ type: 'member', uri: 'general', event: 'joined', seq: 20, user: {} })
    expect(frames.map((f) => f.seq)).toEqual([undefined, 19, 20])
    latest().receive({ type: 'member', uri: 'general', event: 'left', seq: 21, user: {} })
    latest().drop()
    fireTimer()
    latest().open()
    expect(latest().sent).toEqual([
      { type: 'subscribe', uri: 'general', after_seq: 21, ref: 'sub-2' },
    ])
    expect(socket.lastSeqs).toEqual({ general: 21 })
  })

  it('takes the latest_seq of a subscribe only once its whole replay has arrived', () => {
    const { socket, latest, fireTimer } = harness()
    socket.subscribe('quiet', 5)
    socket.subscribe('busy', 7)
    socket.connect()
    latest().open()
    latest().receive({ type: 'subscribed', uri: 'quiet', latest_id: 5, latest_seq: 9 })
    latest().receive({ type: 'subscribed', uri: 'busy', latest_id: 30, latest_seq: 40 })
    latest().receive({ type: 'message', uri: 'busy', id: 8, seq: 16, message: 'a' })
    // The connection drops in the middle of busy's replay: it resumes from what came.
    latest().drop()
    fireTimer()
    latest().open()
    expect(latest().sent).toEqual([
      { type: 'subscribe', uri: 'quiet', after: 5, ref: 'sub-3' },
      { type: 'subscribe', uri: 'busy', after_seq: 16, ref: 'sub-4' },
    ])
    latest().receive({ type: 'subscribed', uri: 'quiet', latest_id: 5, latest_seq: 9 })
    latest().receive({ type: 'subscribed', uri: 'busy', latest_id: 30, latest_seq: 40 })
    latest().pong()
    expect(socket.lastSeqs).toEqual({ quiet: 9, busy: 40 })
  })

  it("carries the last event number to a room's new address and forgets it on leaving", () => {
    const { socket, latest, fireTimer } = harness()
    socket.subscribe('old', 4)
    socket.subscribe('gone', 1)
    socket.connect()
    latest().open()
    latest().receive({ type: 'message', uri: 'old', id: 7, seq: 12, message: 'a' })
    latest().receive({ type: 'moved', uri: 'old', new_uri: 'new', seq: 13 })
    socket.rename('old', 'new')
    latest().receive({ type: 'message', uri: 'gone', id: 8, seq: 3, message: 'b' })
    socket.unsubscribe('gone')
    latest().drop()
    fireTimer()
    latest().open()
    expect(latest().sent).toEqual([{ type: 'subscribe', uri: 'new', after_seq: 13, ref: 'sub-3' }])
  })

  it('counts a rename of a chat as one of its events, so a resume starts after it', () => {
    const { socket, latest, fireTimer } = harness()
    socket.subscribe('trip', 4)
    socket.connect()
    latest().open()
    latest().receive({ type: 'message', uri: 'trip', id: 7, seq: 12, message: 'a' })
    latest().receive({ type: 'renamed', uri: 'trip', seq: 13, name: 'Trip', user: { id: 2 } })
    // A rename of a chat this socket does not follow says nothing about the ones it does.
    latest().receive({ type: 'renamed', uri: 'other', seq: 99, name: 'x', user: { id: 2 } })
    latest().drop()
    fireTimer()
    latest().open()
    expect(latest().sent).toEqual([{ type: 'subscribe', uri: 'trip', after_seq: 13, ref: 'sub-2' }])
  })
})

describe('changes to messages', () => {
  it('resumes after edits, deletes and reactions, but not after a done alone', () => {
    const { socket, latest, fireTimer } = harness()
    socket.subscribe('general', 10)
    socket.connect()
    latest().open()
    const target = { id: 10, seq: 5 }
    latest().receive({ type: 'edited', uri: 'general', seq: 30, target })
    latest().receive({ type: 'deleted', uri: 'general', seq: 31, target })
    latest().receive({ type: 'reacted', uri: 'general', seq: 32, target, emoji: '👍', on: true })
    expect(socket.lastSeqs).toEqual({ general: 32 })
    // The change's own frame may still be on its way when its done arrives.
    latest().receive({ type: 'done', uri: 'general', seq: 33, ref: 'req-1' })
    expect(socket.lastSeqs).toEqual({ general: 32 })
    latest().drop()
    fireTimer()
    latest().open()
    expect(latest().sent).toEqual([
      { type: 'subscribe', uri: 'general', after_seq: 32, ref: 'sub-2' },
    ])
  })

  it('answers a request with its done, matched by ref', async () => {
    const { socket, latest } = harness()
    socket.connect()
    latest().open()
    const first = socket.request({ type: 'edit', uri: 'general', id: 4, text: 'new' })
    const second = socket.request({ type: 'react', uri: 'general', id: 4, emoji: '👍', on: true })
    expect(latest().sent).toEqual([
      { type: 'edit', uri: 'general', id: 4, text: 'new', ref: 'req-1' },
      { type: 'react', uri: 'general', id: 4, emoji: '👍', on: true, ref: 'req-2' },
    ])
    latest().receive({ type: 'done', uri: 'general', seq: null, ref: 'req-2' })
    latest().receive({ type: 'done', uri: 'general', seq: 9, ref: 'req-1' })
    await expect(first).resolves.toMatchObject({ seq: 9 })
    await expect(second).resolves.toMatchObject({ seq: null })
  })

  it("rejects a request the server refused, with the server's reason", async () => {
    const { socket, latest } = harness()
    socket.connect()
    latest().open()
    const asked = socket.request({ type: 'delete', uri: 'general', id: 4 })
    latest().receive({ type: 'error', code: 'forbidden', detail: 'Not yours.', ref: 'req-1' })
    await expect(asked).rejects.toMatchObject({ code: 'forbidden', message: 'Not yours.' })
  })

  it('sends a request again once a rate_limited refusal says it fits', async () => {
    const { socket, timers, latest } = harness()
    socket.connect()
    latest().open()
    const asked = socket.request({ type: 'react', uri: 'general', id: 4, emoji: '🎉', on: true })
    latest().receive({ type: 'error', code: 'rate_limited', ref: 'req-1', retry_after: 0.5 })
    expect(timers.at(-1).ms).toBe(500)
    timers.at(-1).fn()
    expect(latest().sent.map((f) => f.ref)).toEqual(['req-1', 'req-1'])
    latest().receive({ type: 'done', uri: 'general', seq: 3, ref: 'req-1' })
    await expect(asked).resolves.toMatchObject({ seq: 3 })
  })

  it('sends a request made while down once connected, and fails one the drop cut off', async () => {
    const { socket, latest, fireTimer } = harness()
    socket.connect()
    const queued = socket.request({ type: 'edit', uri: 'general', id: 1, text: 'later' })
    latest().open()
    expect(latest().sent).toEqual([
      { type: 'edit', uri: 'general', id: 1, text: 'later', ref: 'req-1' },
    ])
    latest().drop()
    await expect(queued).rejects.toMatchObject({ code: 'dropped' })
    const whileDown = socket.request({ type: 'delete', uri: 'general', id: 2 })
    fireTimer()
    latest().open()
    expect(latest().sent).toEqual([{ type: 'delete', uri: 'general', id: 2, ref: 'req-2' }])
    latest().receive({ type: 'done', uri: 'general', seq: 7, ref: 'req-2' })
    await expect(whileDown).resolves.toMatchObject({ seq: 7 })
  })
})

describe('losing the network', () => {
  it('gives the socket up at once and resumes once reconnected', () => {
    const { socket, timers, latest, fireTimer } = harness()
    socket.subscribe('general', 3)
    socket.connect()
    const first = latest()
    first.open()
    first.receive({ type: 'message', uri: 'general', id: 4, seq: 9, message: 'a' })
    socket.drop()
    expect(socket.status.value).toBe('reconnecting')
    expect(timers).toHaveLength(1)
    // Whatever the old socket still delivers is not trusted any more.
    first.receive({ type: 'message', uri: 'general', id: 5, seq: 10, message: 'b' })
    first.drop()
    expect(timers).toHaveLength(1)
    fireTimer()
    latest().open()
    expect(latest().sent).toEqual([
      { type: 'subscribe', uri: 'general', after_seq: 9, ref: 'sub-2' },
    ])
  })
})
