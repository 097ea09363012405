import { afterEach, describe, expect, it } from 'vitest'
import { chatPath, followHistory, parseLocation, push, replace, route } from './router.js'

describe('parseLocation', () => {
  it('names each screen of the app from its path', () => {
    expect(parseLocation('/').name).toBe('home')
    expect(parseLocation('/login').name).toBe('login')
    expect(parseLocation('/signup/').name).toBe('signup')
    expect(parseLocation('/admin').name).toBe('admin')
    expect(parseLocation('/people').name).toBe('people')
    expect(parseLocation('/profile/').name).toBe('profile')
    expect(parseLocation('/nowhere').name).toBe('notFound')
  })

  it("reads a chat's address back into the uri it was built from", () => {
    const uri = 'café & co/?'
    expect(parseLocation(chatPath(uri))).toEqual({
      name: 'chat',
      path: chatPath(uri),
      params: { uri },
      query: {},
    })
  })

  it('keeps the query, such as an invite code', () => {
    expect(parseLocation('/signup', '?invite=abc').query).toEqual({ invite: 'abc' })
  })
})

describe('the route', () => {
  let stop = () => {}
  afterEach(() => {
    stop()
    replace('/')
  })

  it('follows push and replace, and the back button while it follows history', () => {
    stop = followHistory()
    push('/admin')
    expect(route.name).toBe('admin')
    replace('/chats/general/')
    expect(route.params).toEqual({ uri: 'general' })
    window.history.pushState(null, '', '/login')
    window.dispatchEvent(new PopStateEvent('popstate'))
    expect(route.name).toBe('login')
  })

  it('stops following the back button once told to', () => {
    followHistory()()
    replace('/admin')
    window.history.pushState(null, '', '/login')
    window.dispatchEvent(new PopStateEvent('popstate'))
    expect(route.name).toBe('admin')
  })
})
