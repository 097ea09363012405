import { describe, expect, it } from 'vitest'
import { indexOfPhoto, keyAction, stepIndex, swipeStep } from './lightbox.js'

describe('lightbox navigation', () => {
  it('steps through the photos and stops at either end', () => {
    expect(stepIndex(0, 3, 1)).toBe(1)
    expect(stepIndex(2, 3, 1)).toBe(2)
    expect(stepIndex(0, 3, -1)).toBe(0)
    expect(stepIndex(0, 0, 1)).toBe(-1)
  })

  it('maps Escape and the arrow keys', () => {
    expect(keyAction('Escape')).toBe('close')
    expect(keyAction('ArrowLeft')).toBe('previous')
    expect(keyAction('ArrowRight')).toBe('next')
    expect(keyAction('a')).toBeNull()
  })

  it('takes a sideways swipe, not a short one or a scroll', () => {
    expect(swipeStep(-120, 10)).toBe(1)
    expect(swipeStep(120, -10)).toBe(-1)
    expect(swipeStep(-20, 0)).toBe(0)
    expect(swipeStep(-80, 200)).toBe(0)
  })

  it('finds the photo shown by its id as the list grows, or the nearest place if it went', () => {
    const photos = [1, 2, 3].map((id) => ({ file: { id } }))
    expect(indexOfPhoto(photos, 2)).toBe(1)
    expect(indexOfPhoto([{ file: { id: 0 } }, ...photos], 2)).toBe(2)
    expect(indexOfPhoto(photos, 9, 5)).toBe(2)
    expect(indexOfPhoto([], 9, 1)).toBe(-1)
  })
})
