import { describe, expect, it } from 'vitest'
import { applyPresence } from './presence.js'

describe('applyPresence', () => {
  it('adds arrivals to the snapshot and removes departures', () => {
    expect(applyPresence([1, 3], { came_online: [2], went_offline: [3] })).toEqual([1, 2])
  })

  it('changes nothing when told again what it already knows', () => {
    expect(applyPresence([1, 2], { came_online: [2], went_offline: [5] })).toEqual([1, 2])
  })

  it('starts from nobody when it has no snapshot', () => {
    expect(applyPresence(undefined, { came_online: [4], went_offline: [] })).toEqual([4])
  })
})
