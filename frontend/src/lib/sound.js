// The arrival chime, served by the box itself.
let audio = null
let lastPlayed = 0

export function playDing() {
  const now = Date.now()
  // A burst of messages (or a resume after a reconnect) chimes once, not per message.
  if (now - lastPlayed < 2000) return
  lastPlayed = now
  try {
    audio ??= new Audio('/static/ding.wav')
    audio.currentTime = 0
    // Browsers refuse sound before the user has interacted with the page; that is fine.
    audio.play()?.catch?.(() => {})
  } catch {
    // No audio support: stay silent.
  }
}
