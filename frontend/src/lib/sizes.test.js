import { describe, expect, it } from 'vitest'
import { formatBytes } from './sizes.js'

describe('formatBytes', () => {
  it('counts small files in bytes', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1)).toBe('1 B')
    expect(formatBytes(1023)).toBe('1023 B')
  })

  it('shows one decimal below ten units and none above', () => {
    expect(formatBytes(1024)).toBe('1 KB')
    expect(formatBytes(1536)).toBe('1.5 KB')
    expect(formatBytes(482113)).toBe('471 KB')
    expect(formatBytes(25 * 1024 * 1024)).toBe('25 MB')
    expect(formatBytes(3.25 * 1024 ** 3)).toBe('3.3 GB')
  })

  it('does not show "10.0" for just under ten units', () => {
    expect(formatBytes(9.97 * 1024)).toBe('10 KB')
  })

  it('says nothing for what is not a size', () => {
    expect(formatBytes(undefined)).toBe('')
    expect(formatBytes(-1)).toBe('')
    expect(formatBytes('x')).toBe('')
  })
})
