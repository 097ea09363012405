// Copies text to the clipboard. The Clipboard API exists only on https or localhost,
// and a LAN box is usually plain http, so fall back to selecting a field and the old
// copy command; if even that fails, leave the text selected for the user.
import { onScopeDispose, ref } from 'vue'

export function useCopy(resetAfter = 2000) {
  const copied = ref(false)
  const failed = ref(false)
  let timer = null

  async function copy(text, field) {
    failed.value = false
    let ok = false
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text)
        ok = true
      }
    } catch {
      ok = false
    }
    if (!ok && field) {
      field.focus()
      field.select()
      try {
        ok = document.execCommand('copy')
      } catch {
        ok = false
      }
    }
    failed.value = !ok
    copied.value = ok
    clearTimeout(timer)
    timer = setTimeout(() => (copied.value = false), resetAfter)
  }

  onScopeDispose(() => clearTimeout(timer))
  return { copied, failed, copy }
}
