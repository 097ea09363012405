// A long press with a finger (or pen): how a phone offers what a mouse gets on hover.
// Returns listeners to bind with v-on, and `wasLongPress()` for a click handler that
// must ignore the click a long press ends with. `onLongPress` gets the pressed element.

// Long enough not to fire on a tap or the start of a scroll, short enough to feel quick
// (Android's own long press is 400–500 ms).
export const LONG_PRESS_MS = 500
// A finger that moves this far is scrolling, not pressing.
const SLOP_PX = 10

export function useLongPress(onLongPress, { ms = LONG_PRESS_MS } = {}) {
  let timer = null
  let start = null
  let fired = false

  function cancel() {
    clearTimeout(timer)
    timer = null
  }

  const listeners = {
    pointerdown(event) {
      fired = false
      if (event.pointerType === 'mouse') return
      start = { x: event.clientX, y: event.clientY }
      const pressed = event.currentTarget
      cancel()
      timer = setTimeout(() => {
        timer = null
        fired = true
        onLongPress(pressed)
      }, ms)
    },
    pointermove(event) {
      if (!timer || !start) return
      if (Math.hypot(event.clientX - start.x, event.clientY - start.y) > SLOP_PX) cancel()
    },
    pointerup: cancel,
    pointercancel: cancel,
    pointerleave: cancel,
    // The browser's own long-press menu would cover what the press opened.
    contextmenu(event) {
      if (fired || timer) event.preventDefault()
    },
  }

  function wasLongPress() {
    const was = fired
    fired = false
    return was
  }

  return { listeners, wasLongPress, cancel }
}
