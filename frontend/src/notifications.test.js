import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  disableNotifications,
  enableNotifications,
  notifications,
  notificationsStatus,
  notifyArrival,
} from './notifications.js'
import { route } from './router.js'

const ME = 1
const room = { uri: 'g', kind: 'group', is_private: true, name: 'Trip', notify: 'all' }
const message = { id: 5, user: { id: 2, username: 'alice' }, message: 'hello', mentions: [] }

// The browser's Notification, recording what it is asked to show.
class FakeNotification {
  static permission = 'default'
  static shown = []
  static requestPermission = vi.fn(async () => {
    FakeNotification.permission = 'granted'
    return 'granted'
  })

  constructor(title, options) {
    this.title = title
    this.options = options
    this.close = vi.fn()
    FakeNotification.shown.push(this)
  }
}

beforeEach(() => {
  FakeNotification.permission = 'default'
  FakeNotification.shown = []
  FakeNotification.requestPermission.mockClear()
  vi.stubGlobal('Notification', FakeNotification)
  Object.defineProperty(window, 'isSecureContext', { configurable: true, value: true })
  notifications.permission = 'default'
  notifications.wantedBy = []
  vi.spyOn(document, 'hasFocus').mockReturnValue(true)
})

afterEach(() => {
  vi.unstubAllGlobals()
  vi.restoreAllMocks()
})

describe('notifications in this browser', () => {
  it('ask the permission only when turned on, and are then on for that person only', async () => {
    expect(notificationsStatus(ME)).toBe('off')
    expect(FakeNotification.requestPermission).not.toHaveBeenCalled()
    await enableNotifications(ME)
    expect(FakeNotification.requestPermission).toHaveBeenCalledTimes(1)
    expect(notificationsStatus(ME)).toBe('on')
    expect(notificationsStatus(2)).toBe('off')
    disableNotifications(ME)
    expect(notificationsStatus(ME)).toBe('off')
  })

  it('stay off when the person refuses', async () => {
    FakeNotification.requestPermission.mockImplementationOnce(async () => 'denied')
    await enableNotifications(ME)
    expect(notificationsStatus(ME)).toBe('blocked')
  })

  it('show nothing until turned on', () => {
    notifications.permission = 'granted'
    notifyArrival(room, message, ME, null)
    expect(FakeNotification.shown).toEqual([])
  })

  it('show a message of a chat not on screen, and a click opens it at the message', async () => {
    await enableNotifications(ME)
    notifyArrival(room, message, ME, 'g')
    expect(FakeNotification.shown).toEqual([])
    notifyArrival(room, message, ME, 'elsewhere')
    expect(FakeNotification.shown).toHaveLength(1)
    const [shown] = FakeNotification.shown
    expect(shown.title).toBe('alice in Trip')
    expect(shown.options.body).toBe('hello')
    vi.spyOn(window, 'focus').mockImplementation(() => {})
    shown.onclick()
    expect(window.focus).toHaveBeenCalled()
    expect(shown.close).toHaveBeenCalled()
    expect(route.path).toBe('/chats/g/')
    expect(route.query.message).toBe('5')
  })

  it('show the chat on screen when the tab is not focused', async () => {
    await enableNotifications(ME)
    document.hasFocus.mockReturnValue(false)
    notifyArrival(room, message, ME, 'g')
    expect(FakeNotification.shown).toHaveLength(1)
  })

  it('say plain http is why they cannot be', () => {
    Object.defineProperty(window, 'isSecureContext', { configurable: true, value: false })
    expect(notificationsStatus(ME)).toBe('insecure')
  })
})
