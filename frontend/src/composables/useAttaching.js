// The composer's side of sending files: the pickers' and the clipboard's files go to the
// chat's uploads, and a Send pressed while some are still uploading waits for them, so
// the message goes with all its files or not at all.
import { computed, ref, watch } from 'vue'

const FAILED =
  'Not sent: a file did not upload. Retry it or take it off, then send the message again.'

// `uploads`: a function giving the composer's uploads (composables/useUploads.js) or
// null; `text`: the composer's text ref; `sendNow(files)`: sends the text with files.
export function useAttaching(uploads, text, sendNow) {
  const waiting = ref(false)
  const failed = ref(false)

  // 'empty', 'uploading', 'failed' or 'ready' (lib/uploads.js sendState).
  const state = computed(() => {
    const queue = uploads()
    if (queue) return queue.state(text.value)
    return text.value.trim() ? 'ready' : 'empty'
  })
  const canSend = computed(() => state.value !== 'empty' && !waiting.value)
  const status = computed(() => {
    if (waiting.value) return 'Sends when the files finish uploading.'
    return failed.value && state.value === 'failed' ? FAILED : ''
  })

  function finish() {
    waiting.value = false
    failed.value = false
    sendNow(uploads()?.take() || [])
  }

  function send() {
    if (state.value === 'ready') finish()
    else if (state.value === 'uploading') waiting.value = true
    else if (state.value === 'failed') failed.value = true
  }

  watch(state, (now) => {
    if (now !== 'failed') failed.value = false
    if (!waiting.value) return
    if (now === 'ready') finish()
    else if (now === 'failed') {
      waiting.value = false
      failed.value = true
    } else if (now === 'empty') waiting.value = false
  })

  // A file taken off while the message waits: the person is changing what they send,
  // so it waits for them to press Send again.
  watch(
    () => uploads()?.items.length ?? 0,
    (now, before) => now < before && (waiting.value = false),
  )

  function picked(event) {
    const input = event.target
    if (input.files?.length) uploads()?.add(input.files)
    // The same file may be picked again (after taking it off, say).
    input.value = ''
  }

  // Pasted files (a screenshot, a copied photo) are attached; a paste that has text as
  // well (a spreadsheet's cells come with a picture of them) stays text.
  function pasted(event) {
    const data = event.clipboardData
    const queue = uploads()
    if (!data || !queue || !data.files?.length) return
    if (Array.from(data.types || []).includes('text/plain')) return
    event.preventDefault()
    queue.add(data.files)
  }

  // Phones and tablets get a button that opens the camera itself.
  const touch = typeof matchMedia === 'function' && matchMedia('(pointer: coarse)').matches

  return { waiting, status, canSend, send, picked, pasted, touch }
}
