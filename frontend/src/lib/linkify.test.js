import { describe, expect, it } from 'vitest'
import { linkify } from './linkify.js'

describe('linkify', () => {
  it('leaves text without links as one text piece', () => {
    expect(linkify('<img src=x onerror=alert(1)>')).toEqual([
      { type: 'text', text: '<img src=x onerror=alert(1)>' },
    ])
  })

  it('turns http and https URLs into links and keeps the words around them', () => {
    expect(linkify('see http://box.lan/a?b=1, then https://x.org.')).toEqual([
      { type: 'text', text: 'see ' },
      { type: 'link', text: 'http://box.lan/a?b=1', href: 'http://box.lan/a?b=1' },
      { type: 'text', text: ', then ' },
      { type: 'link', text: 'https://x.org', href: 'https://x.org' },
      { type: 'text', text: '.' },
    ])
  })

  it('never links other schemes', () => {
    const parts = linkify('javascript:alert(1) data:text/html,hi')
    expect(parts.every((p) => p.type === 'text')).toBe(true)
  })

  it('keeps a closing bracket outside the link unless the URL opened one', () => {
    expect(linkify('(http://a.b/c)')[1].href).toBe('http://a.b/c')
    expect(linkify('http://w.org/Foo_(bar)')[0].href).toBe('http://w.org/Foo_(bar)')
  })
})
