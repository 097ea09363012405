import { describe, expect, it } from 'vitest'
import { deliveryState, hookAddress, hookChat, isWebhookUrl } from './bots.js'

const out = (fields) => ({ direction: 'out', failures: 0, last_error: '', ...fields })

describe('hookAddress', () => {
  it('puts an incoming webhook on the page’s origin', () => {
    expect(hookAddress('/hooks/abc', 'http://box.local:8888')).toBe(
      'http://box.local:8888/hooks/abc',
    )
    expect(hookAddress('/hooks/abc', 'http://box:8888/')).toBe('http://box:8888/hooks/abc')
  })
  it('leaves a full address alone and gives nothing for nothing', () => {
    expect(hookAddress('https://x/hooks/a', 'http://box')).toBe('https://x/hooks/a')
    expect(hookAddress(undefined, 'http://box')).toBe('')
  })
})

describe('hookChat', () => {
  it('names rooms with a hash and private chats by name or address', () => {
    expect(hookChat({ chat: { kind: 'room', uri: 'general', name: 'general' } })).toBe('#general')
    expect(hookChat({ chat: { kind: 'group', uri: 'abcdef0123', name: 'Kitchen' } })).toBe(
      'Kitchen',
    )
    expect(hookChat({ chat: { kind: 'group', uri: 'abcdef0123', name: null } })).toBe(
      'Private chat abcdef…',
    )
  })
})

describe('deliveryState', () => {
  it('says an incoming webhook posts as the bot', () => {
    expect(deliveryState({ direction: 'in' }).level).toBe('idle')
  })
  it('tells no deliveries, a success and a failure apart', () => {
    expect(deliveryState(out({ last_attempt_at: null }))).toEqual({
      level: 'idle',
      text: 'No deliveries yet.',
    })
    expect(deliveryState(out({ last_attempt_at: 't', last_status: 200 }))).toEqual({
      level: 'healthy',
      text: 'Delivered (HTTP 200).',
    })
    const failing = deliveryState(
      out({ last_attempt_at: 't', last_status: null, failures: 3, last_error: 'refused' }),
    )
    expect(failing.level).toBe('failing')
    expect(failing.text).toBe('Failing: 3 failed attempts (no answer): refused')
    expect(
      deliveryState(out({ last_attempt_at: 't', last_status: 500, failures: 1, last_error: '' }))
        .text,
    ).toBe('Failing: 1 failed attempt (HTTP 500)')
  })
})

describe('isWebhookUrl', () => {
  it('takes http and https addresses, LAN ones included', () => {
    expect(isWebhookUrl('http://192.168.1.20:8080/hook')).toBe(true)
    expect(isWebhookUrl(' https://bot.local/ ')).toBe(true)
  })
  it('refuses other schemes and non-addresses', () => {
    for (const bad of ['ftp://x/', 'file:///etc/passwd', 'javascript:alert(1)', 'bot', '', null]) {
      expect(isWebhookUrl(bad)).toBe(false)
    }
  })
})
