import { describe, expect, it } from 'vitest'
import { revealHidden, shownName } from './names.js'

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

describe('the name a person goes by', () => {
  it('is the display name when one is set', () => {
    expect(shownName({ username: 'alice', display_name: 'Alice L.' })).toBe('Alice L.')
  })

  it('is the username when the display name is empty, blank or missing', () => {
    expect(shownName({ username: 'alice', display_name: '' })).toBe('alice')
    expect(shownName({ username: 'alice', display_name: '   ' })).toBe('alice')
    expect(shownName({ username: 'alice' })).toBe('alice')
    expect(shownName({ username: 'alice', display_name: null })).toBe('alice')
  })

  it('is empty for nobody', () => {
    expect(shownName(null)).toBe('')
  })
})
