// Shows the number of unread messages in the tab's title: "(3) chatbox".
import { getCurrentScope, onScopeDispose, watch } from 'vue'

export function titleFor(unread, base = 'chatbox') {
  return unread > 0 ? `(${unread > 99 ? '99+' : unread}) ${base}` : base
}

export function useTitleBadge(count, base = 'chatbox') {
  const stop = watch(count, (n) => (document.title = titleFor(n, base)), { immediate: true })
  if (!getCurrentScope()) return
  onScopeDispose(() => {
    stop()
    document.title = base
  })
}
