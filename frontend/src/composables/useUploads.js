// The files waiting to go with the next message of each chat, uploading as soon as
// they are added (see lib/uploads.js for their states). One queue per chat, so moving
// to another chat and back finds them where they were; every upload still running
// stops when the chat view goes away.
import { markRaw, onBeforeUnmount, reactive, ref } from 'vue'
import {
  addFiles,
  cancelUpload,
  clearQueue,
  createQueue,
  MAX_FILES,
  failUpload,
  finishUpload,
  noteProgress,
  pruneCancelled,
  retryUpload,
  sendState,
  startUpload,
  uploadedFiles,
} from '../lib/uploads.js'
import { uploadFile, UploadCancelled } from '../lib/upload.js'

// `uri` is a function giving the open chat's address.
export function useUploads(uri, { upload = uploadFile } = {}) {
  const queues = reactive({})
  const aborts = new Map()
  // Why some of the files last added were left out, or ''.
  const notice = ref('')

  function queueFor(address) {
    if (!queues[address]) queues[address] = createQueue()
    return queues[address]
  }

  function begin(address, item) {
    if (!startUpload(item)) return
    const { promise, abort } = upload(address, item.file, item.name, {
      onProgress: (loaded) => noteProgress(item, loaded),
    })
    aborts.set(item.key, abort)
    promise
      .then(
        (file) => finishUpload(item, file),
        (error) => {
          if (!(error instanceof UploadCancelled)) failUpload(item, error.message)
        },
      )
      .finally(() => aborts.delete(item.key))
  }

  // Adds files to the open chat's next message; returns the files over the limit.
  function add(files) {
    const address = uri()
    // The File itself is handed to the network as it is, never as a reactive copy.
    const { added, refused } = addFiles(queueFor(address), Array.from(files, markRaw))
    for (const item of added) begin(address, item)
    notice.value = refused.length
      ? `A message carries at most ${MAX_FILES} files: ${refusedNames(refused)} left out.`
      : ''
    return refused
  }

  function cancel(item) {
    aborts.get(item.key)?.()
    cancelUpload(item)
    pruneCancelled(queueFor(uri()))
  }

  function retry(item) {
    if (retryUpload(item)) begin(uri(), item)
  }

  function refusedNames(files) {
    return files.length === 1 ? `${files[0].name || 'one'} was` : `${files.length} were`
  }

  // The message is being sent: its files, and an empty queue for the next one.
  function take() {
    const queue = queueFor(uri())
    const files = uploadedFiles(queue)
    clearQueue(queue)
    notice.value = ''
    return files
  }

  onBeforeUnmount(() => {
    for (const abort of aborts.values()) abort()
  })

  const EMPTY = createQueue()
  return {
    // The open chat's files, as the composer shows them.
    get notice() {
      return notice.value
    },
    get items() {
      return (queues[uri()] || EMPTY).items
    },
    // What sending now would do (lib/uploads.js sendState).
    state(text) {
      return sendState(queues[uri()] || EMPTY, text)
    },
    add,
    cancel,
    retry,
    take,
  }
}
