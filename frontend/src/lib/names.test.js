import { describe, expect, it } from 'vitest'
import { revealHidden } from './names.js'

describe('usernames on the admin page', () => {
  it('leaves an ordinary name as it is', () => {
    expect(revealHidden('alice')).toBe('alice')
    expect(revealHidden('ａｌｉｃｅ')).toBe('ａｌｉｃｅ')
  })

  it('writes out a trailing newline, so "alice\\n" is not a second "alice"', () => {
    expect(revealHidden('alice\n')).toBe('alice<U+000A>')
  })

  it('writes out invisible and direction-changing characters', () => {
    expect(revealHidden('ali\u200bce')).toBe('ali<U+200B>ce')
    expect(revealHidden('\u202eecila')).toBe('<U+202E>ecila')
    expect(revealHidden('alice\u3164')).toBe('alice<U+3164>')
  })
})
