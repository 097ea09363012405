// The service worker, served at /sw.js so that it controls every page of the box. The
// build fills in __VERSION__ (a hash of every file below) and __PRECACHE__ (the app
// shell and the built files), so each new build installs a fresh cache and drops the
// old one.
/* global __VERSION__, __PRECACHE__ */
import { createWorker } from './worker.js'

const worker = createWorker({
  caches: self.caches,
  fetch: (request) => self.fetch(request),
  clients: self.clients,
  origin: self.location.origin,
  version: __VERSION__,
  precache: __PRECACHE__,
})

self.addEventListener('install', (event) => {
  // A new build takes over at once: its cache holds everything the new page needs.
  event.waitUntil(worker.install().then(() => self.skipWaiting()))
})

self.addEventListener('activate', (event) => {
  event.waitUntil(worker.activate().then(() => self.clients.claim()))
})

self.addEventListener('fetch', (event) => {
  const answer = worker.respond(event.request, (work) => event.waitUntil(work))
  if (answer) event.respondWith(answer)
})

self.addEventListener('notificationclick', (event) => {
  event.notification.close()
  event.waitUntil(worker.notificationClick(event.notification.data))
})
