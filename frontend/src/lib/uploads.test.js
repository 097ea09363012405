import { describe, expect, it } from 'vitest'
import {
  addFiles,
  cancelUpload,
  clearQueue,
  createQueue,
  failUpload,
  finishUpload,
  MAX_FILES,
  noteProgress,
  percentOf,
  pruneCancelled,
  retryUpload,
  sendState,
  startUpload,
  uploadedFiles,
} from './uploads.js'

const file = (name, size = 1000) => ({ name, size })

function queueOf(...names) {
  const queue = createQueue()
  const { added } = addFiles(
    queue,
    names.map((n) => file(n)),
  )
  return { queue, items: added }
}

describe('the upload queue', () => {
  it('adds files as queued items, in order, each with its own key', () => {
    const { queue, items } = queueOf('a.jpg', 'b.pdf')
    expect(items.map((i) => [i.name, i.status, i.size])).toEqual([
      ['a.jpg', 'queued', 1000],
      ['b.pdf', 'queued', 1000],
    ])
    expect(new Set(queue.items.map((i) => i.key)).size).toBe(2)
  })

  it('names a pasted file that came without a name', () => {
    const queue = createQueue()
    expect(addFiles(queue, [{ name: '', size: 3 }]).added[0].name).toBe('pasted file')
  })

  it('takes at most the files one message may carry and says which were left out', () => {
    const queue = createQueue()
    const files = Array.from({ length: MAX_FILES + 2 }, (_, n) => file(`${n}.jpg`))
    const { added, refused } = addFiles(queue, files)
    expect(added).toHaveLength(MAX_FILES)
    expect(refused.map((f) => f.name)).toEqual([`${MAX_FILES}.jpg`, `${MAX_FILES + 1}.jpg`])
  })

  it('makes room again when a file is taken off', () => {
    const queue = createQueue()
    const { added } = addFiles(
      queue,
      Array.from({ length: MAX_FILES }, (_, n) => file(`${n}`)),
    )
    cancelUpload(added[0])
    expect(addFiles(queue, [file('late')]).added).toHaveLength(1)
  })

  it('goes queued → uploading → done, with progress that only grows', () => {
    const { items } = queueOf('a.jpg')
    const [item] = items
    expect(startUpload(item)).toBe(true)
    expect(item.status).toBe('uploading')
    noteProgress(item, 400)
    expect(percentOf(item)).toBe(40)
    noteProgress(item, 100)
    expect(percentOf(item)).toBe(40)
    noteProgress(item, 5000)
    expect(percentOf(item)).toBe(100)
    expect(finishUpload(item, { id: 7 })).toBe(true)
    expect(item.status).toBe('done')
    expect(item.result).toEqual({ id: 7 })
  })

  it('keeps the server’s reason for a failure, and a retry starts over', () => {
    const [item] = queueOf('big.mov').items
    startUpload(item)
    noteProgress(item, 500)
    expect(failUpload(item, 'The file is over 25 MB.')).toBe(true)
    expect(item).toMatchObject({ status: 'failed', error: 'The file is over 25 MB.' })
    expect(startUpload(item)).toBe(false)
    expect(retryUpload(item)).toBe(true)
    expect(item.status).toBe('queued')
    expect(startUpload(item)).toBe(true)
    expect(item).toMatchObject({ status: 'uploading', loaded: 0, error: '' })
  })

  it('ignores what arrives for an upload after it was cancelled', () => {
    const [item] = queueOf('a.jpg').items
    startUpload(item)
    expect(cancelUpload(item)).toBe(true)
    expect(noteProgress(item, 10)).toBe(false)
    expect(finishUpload(item, { id: 1 })).toBe(false)
    expect(failUpload(item, 'x')).toBe(false)
    expect(retryUpload(item)).toBe(false)
    expect(item.status).toBe('cancelled')
  })

  it('forgets cancelled items', () => {
    const { queue, items } = queueOf('a', 'b')
    cancelUpload(items[0])
    pruneCancelled(queue)
    expect(queue.items.map((i) => i.name)).toEqual(['b'])
  })
})

describe('when the message may be sent', () => {
  it('needs text or a file', () => {
    const queue = createQueue()
    expect(sendState(queue, '')).toBe('empty')
    expect(sendState(queue, '   ')).toBe('empty')
    expect(sendState(queue, 'hi')).toBe('ready')
  })

  it('waits while any file is queued or uploading, even with text', () => {
    const { queue, items } = queueOf('a', 'b')
    expect(sendState(queue, 'caption')).toBe('uploading')
    startUpload(items[0])
    startUpload(items[1])
    finishUpload(items[0], { id: 1 })
    expect(sendState(queue, 'caption')).toBe('uploading')
    finishUpload(items[1], { id: 2 })
    expect(sendState(queue, 'caption')).toBe('ready')
  })

  it('may go with files and no text', () => {
    const { queue, items } = queueOf('a')
    startUpload(items[0])
    finishUpload(items[0], { id: 1 })
    expect(sendState(queue, '')).toBe('ready')
  })

  it('never goes while a file has failed, so no message is sent with half its files', () => {
    const { queue, items } = queueOf('a', 'b')
    for (const item of items) startUpload(item)
    finishUpload(items[0], { id: 1 })
    failUpload(items[1], 'Too big.')
    expect(sendState(queue, 'both')).toBe('failed')
    // Taking the failed file off lets the rest go.
    cancelUpload(items[1])
    expect(sendState(queue, 'both')).toBe('ready')
    expect(uploadedFiles(queue)).toEqual([{ id: 1 }])
  })

  it('hands over the uploaded files in the order they were added', () => {
    const { queue, items } = queueOf('a', 'b', 'c')
    for (const item of items) startUpload(item)
    finishUpload(items[2], { id: 3 })
    finishUpload(items[0], { id: 1 })
    finishUpload(items[1], { id: 2 })
    expect(uploadedFiles(queue).map((f) => f.id)).toEqual([1, 2, 3])
    clearQueue(queue)
    expect(sendState(queue, '')).toBe('empty')
  })
})
