import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import { defineComponent, h, nextTick } from 'vue'
import { ApiError } from '../lib/api.js'
import { UploadCancelled } from '../lib/upload.js'
import { useUploads } from './useUploads.js'

// A stand-in for the network: every upload waits until the test answers it.
function fakeNetwork() {
  const calls = []
  function upload(uri, file, name, { onProgress }) {
    let resolve, reject
    const promise = new Promise((res, rej) => {
      resolve = res
      reject = rej
    })
    const call = { uri, file, name, onProgress, resolve, reject, aborted: false }
    call.abort = () => {
      call.aborted = true
      reject(new UploadCancelled())
    }
    calls.push(call)
    return { promise, abort: call.abort }
  }
  return { calls, upload }
}

function withUploads(uri, network) {
  let uploads
  const wrapper = mount(
    defineComponent({
      setup() {
        uploads = useUploads(() => uri.value, { upload: network.upload })
        return () => h('div')
      },
    }),
  )
  return { uploads, wrapper }
}

const settle = () => new Promise((resolve) => setTimeout(resolve))

describe('useUploads', () => {
  it('uploads each file at once to the open chat and hands them over when sent', async () => {
    const network = fakeNetwork()
    const { uploads } = withUploads({ value: 'room' }, network)
    uploads.add([new File(['a'], 'a.jpg'), new File(['bb'], 'b.pdf')])
    expect(network.calls.map((c) => [c.uri, c.name])).toEqual([
      ['room', 'a.jpg'],
      ['room', 'b.pdf'],
    ])
    expect(uploads.state('')).toBe('uploading')
    network.calls[0].onProgress(1)
    expect(uploads.items[0].loaded).toBe(1)
    network.calls[0].resolve({ id: 1 })
    network.calls[1].resolve({ id: 2 })
    await settle()
    expect(uploads.state('')).toBe('ready')
    expect(uploads.take()).toEqual([{ id: 1 }, { id: 2 }])
    expect(uploads.items).toEqual([])
  })

  it('shows a failure with the server’s reason, and retries the same file', async () => {
    const network = fakeNetwork()
    const { uploads } = withUploads({ value: 'room' }, network)
    const file = new File(['x'], 'big.mov')
    uploads.add([file])
    network.calls[0].reject(new ApiError(413, { detail: 'Too big.' }))
    await settle()
    expect(uploads.items[0]).toMatchObject({ status: 'failed', error: 'Too big.' })
    expect(uploads.state('caption')).toBe('failed')
    uploads.retry(uploads.items[0])
    expect(network.calls).toHaveLength(2)
    expect(network.calls[1].file).toBe(file)
    expect(uploads.items[0].status).toBe('uploading')
  })

  it('cancels an upload on its way and takes it off the message', async () => {
    const network = fakeNetwork()
    const { uploads } = withUploads({ value: 'room' }, network)
    uploads.add([new File(['x'], 'a.jpg')])
    uploads.cancel(uploads.items[0])
    await settle()
    expect(network.calls[0].aborted).toBe(true)
    expect(uploads.items).toEqual([])
    expect(uploads.state('')).toBe('empty')
  })

  it('keeps each chat’s files apart', () => {
    const network = fakeNetwork()
    const uri = { value: 'one' }
    const { uploads } = withUploads(uri, network)
    uploads.add([new File(['x'], 'a.jpg')])
    uri.value = 'two'
    expect(uploads.items).toEqual([])
    uri.value = 'one'
    expect(uploads.items.map((i) => i.name)).toEqual(['a.jpg'])
  })

  it('says which files were left out over the limit', () => {
    const network = fakeNetwork()
    const { uploads } = withUploads({ value: 'room' }, network)
    uploads.add(Array.from({ length: 11 }, (_, n) => new File(['x'], `${n}.jpg`)))
    expect(network.calls).toHaveLength(10)
    expect(uploads.notice).toBe('A message carries at most 10 files: 10.jpg was left out.')
  })

  it('stops every upload when the chat view goes away', async () => {
    const network = fakeNetwork()
    const { uploads, wrapper } = withUploads({ value: 'room' }, network)
    uploads.add([new File(['x'], 'a.jpg')])
    wrapper.unmount()
    await nextTick()
    expect(network.calls[0].aborted).toBe(true)
  })
})
