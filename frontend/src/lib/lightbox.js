// Moving through the photos of a chat in the lightbox: by buttons, keys and swipes.
// It stops at either end rather than wrapping, so "Next" never silently goes back to
// the first photo.

// How far a finger must travel sideways, in CSS pixels, to count as a swipe, and how
// much more sideways than up or down it must go (a scroll is not a swipe).
export const SWIPE_MIN = 50
export const SWIPE_SLOPE = 1.5

export function stepIndex(index, count, delta) {
  if (count <= 0) return -1
  return Math.min(count - 1, Math.max(0, index + delta))
}

// What a key does in the lightbox: 'close', 'previous', 'next', or null.
export function keyAction(key) {
  if (key === 'Escape' || key === 'Esc') return 'close'
  if (key === 'ArrowLeft') return 'previous'
  if (key === 'ArrowRight') return 'next'
  return null
}

// A finger moved (dx, dy) between touching and lifting: -1 for the previous photo
// (swiped right), 1 for the next (swiped left), 0 for no swipe.
export function swipeStep(dx, dy) {
  if (Math.abs(dx) < SWIPE_MIN || Math.abs(dx) < SWIPE_SLOPE * Math.abs(dy)) return 0
  return dx < 0 ? 1 : -1
}

// Where the photo being shown is now in a list that may have grown (older pages,
// new messages) or lost it (a deleted message): by its file id, else the nearest place.
export function indexOfPhoto(photos, id, fallback = 0) {
  const at = photos.findIndex((p) => p.file.id === id)
  if (at !== -1) return at
  return stepIndex(fallback, photos.length, 0)
}
