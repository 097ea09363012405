// Shows what is unread in the tab's title: "(3) chatbox", with mentions of the user
// apart, "(3 · @1) chatbox" (see lib/notify.js).
import { getCurrentScope, onScopeDispose, watch } from 'vue'
import { badgeTitle } from '../lib/notify.js'

// `counts` is a ref or getter of {count, mentions}.
export function useTitleBadge(counts, base = 'chatbox') {
  const stop = watch(counts, (c) => (document.title = badgeTitle(c, base)), { immediate: true })
  if (!getCurrentScope()) return
  onScopeDispose(() => {
    stop()
    document.title = base
  })
}
