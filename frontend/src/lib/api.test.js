import { afterEach, describe, expect, it, vi } from 'vitest'
import { ApiError, READ_RETRIES, request } from './api.js'

// The server, as fetch sees it: each call takes the next of the answers given.
function answering(...answers) {
  const calls = []
  globalThis.fetch = vi.fn(async (path, options) => {
    calls.push({ path, method: options.method })
    const { status = 200, body = {}, retryAfter } = answers.shift()
    return new Response(JSON.stringify(body), {
      status,
      headers: retryAfter ? { 'Retry-After': String(retryAfter) } : {},
    })
  })
  return calls
}

const tooFast = { status: 429, body: { detail: 'Too many requests.' }, retryAfter: 2 }

afterEach(() => {
  delete globalThis.fetch
})

describe('request', () => {
  it('asks again for a read refused as too fast, after the wait the server gives', async () => {
    const calls = answering(tooFast, { body: { chats: [] } })
    const waits = []
    const data = await request('GET', '/api/chats/', undefined, {
      wait: async (ms) => waits.push(ms),
    })
    expect(data).toEqual({ chats: [] })
    expect(waits).toEqual([2000])
    expect(calls).toHaveLength(2)
  })

  it('shows the refusal after a few tries, and at once for a write', async () => {
    answering(...Array(READ_RETRIES + 1).fill(tooFast))
    const wait = async () => {}
    const read = request('GET', '/api/chats/', undefined, { wait })
    await expect(read).rejects.toMatchObject({ status: 429, retryAfter: 2 })

    const calls = answering(tooFast)
    const write = request('POST', '/api/chats/', {}, { wait })
    await expect(write).rejects.toBeInstanceOf(ApiError)
    expect(calls).toHaveLength(1)
  })

  it('does not wait out a refusal longer than a person would', async () => {
    const calls = answering({ ...tooFast, retryAfter: 600 })
    await expect(
      request('GET', '/api/chats/', undefined, { wait: async () => {} }),
    ).rejects.toMatchObject({
      status: 429,
    })
    expect(calls).toHaveLength(1)
  })
})
