import { describe, expect, it } from 'vitest'
import { avatarSource } from './avatar.js'

describe('avatarSource', () => {
  it('uses the small picture for small avatars and the large one otherwise', () => {
    const url = '/api/avatars/7/256.jpg?v=3'
    expect(avatarSource(url, 24)).toBe('/api/avatars/7/64.jpg?v=3')
    expect(avatarSource(url, 32)).toBe('/api/avatars/7/64.jpg?v=3')
    expect(avatarSource(url, 40)).toBe(url)
  })

  it('gives nothing without a picture', () => {
    expect(avatarSource(null, 40)).toBeNull()
  })
})
