import { describe, expect, it } from 'vitest'
import { parseLocation } from '../router.js'
import { isAppPath } from './worker.js'

describe("the service worker's idea of the app's pages", () => {
  it('is the router’s: the shell answers exactly the paths the app shows', () => {
    const paths = [
      '/',
      '/login',
      '/signup/',
      '/admin',
      '/people',
      '/profile',
      '/search',
      '/search?q=wifi',
      '/chats/abc/',
      '/chats/abc',
      '/chats/',
      '/chats/a/b/',
      '/trust',
      '/ca.crt',
      '/static/offline.html',
    ]
    for (const path of paths) {
      expect([path, isAppPath(path)]).toEqual([path, parseLocation(path).name !== 'notFound'])
    }
  })
})
