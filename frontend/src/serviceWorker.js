// Registers the service worker (src/sw/) that keeps the app shell for instant and
// offline starts. Browsers run service workers only in secure contexts (https, or
// http to localhost); elsewhere the app works as before, without one.
import { openAt } from './notifications.js'

export function registerServiceWorker() {
  // The development server does not serve /sw.js; only a build has one.
  if (!import.meta.env.PROD || !window.isSecureContext || !('serviceWorker' in navigator)) return
  navigator.serviceWorker.register('/sw.js').catch((error) => {
    console.warn('The service worker did not register:', error)
  })
  // A click on a notification the worker showed (Chrome on Android) opens the chat here.
  navigator.serviceWorker.addEventListener('message', (event) => {
    if (event.data?.type === 'open-chat') openAt(event.data)
  })
}
