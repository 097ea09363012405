import { afterEach, describe, expect, it } from 'vitest'
import { ApiError } from './api.js'
import { uploadFile, UploadCancelled, uploadPath } from './upload.js'

class FakeXHR {
  static last = null
  constructor() {
    this.headers = {}
    this.upload = {}
    FakeXHR.last = this
  }
  open(method, url) {
    this.method = method
    this.url = url
  }
  setRequestHeader(name, value) {
    this.headers[name] = value
  }
  getResponseHeader(name) {
    return (this.responseHeaders || {})[name] ?? null
  }
  send(body) {
    this.body = body
  }
  abort() {
    this.onabort()
  }
  answer(status, text, headers = {}) {
    this.status = status
    this.responseText = text
    this.responseHeaders = headers
    this.onload()
  }
}

afterEach(() => {
  document.cookie = '_xsrf=; expires=Thu, 01 Jan 1970 00:00:00 GMT'
})

describe('uploadFile', () => {
  it('posts the bytes to the chat with the XSRF header, the name in the query', async () => {
    document.cookie = '_xsrf=tok3n'
    const file = new Blob(['hello'])
    const { promise } = uploadFile('general chat', file, 'a b.txt', { XHR: FakeXHR })
    const xhr = FakeXHR.last
    expect(xhr.method).toBe('POST')
    expect(xhr.url).toBe('/api/chats/general%20chat/uploads/?name=a%20b.txt')
    expect(xhr.headers['X-XSRFToken']).toBe('tok3n')
    expect(xhr.body).toBe(file)
    xhr.answer(201, JSON.stringify({ id: 17, name: 'a b.txt' }))
    await expect(promise).resolves.toEqual({ id: 17, name: 'a b.txt' })
  })

  it('reports upload progress', () => {
    const seen = []
    uploadFile('r', new Blob(['x']), 'x', {
      XHR: FakeXHR,
      onProgress: (loaded, total) => seen.push([loaded, total]),
    })
    FakeXHR.last.upload.onprogress({ loaded: 5, total: 10 })
    expect(seen).toEqual([[5, 10]])
  })

  it('rejects with the server’s reason', async () => {
    const { promise } = uploadFile('r', new Blob(['x']), 'x', { XHR: FakeXHR })
    FakeXHR.last.answer(413, JSON.stringify({ detail: 'The file is over 25 MB.' }))
    const error = await promise.catch((e) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect(error.status).toBe(413)
    expect(error.message).toBe('The file is over 25 MB.')
  })

  it('says a file was too big when a proxy refused it without a reason', async () => {
    const { promise } = uploadFile('r', new Blob(['x']), 'x', { XHR: FakeXHR })
    FakeXHR.last.answer(413, '')
    await expect(promise).rejects.toThrow('larger than the chat server accepts')
  })

  it('passes on how long a full disk asks to wait', async () => {
    const { promise } = uploadFile('r', new Blob(['x']), 'x', { XHR: FakeXHR })
    FakeXHR.last.answer(503, JSON.stringify({ detail: 'The disk is full.' }), {
      'Retry-After': '30',
    })
    const error = await promise.catch((e) => e)
    expect(error.retryAfter).toBe(30)
  })

  it('rejects as cancelled after abort', async () => {
    const { promise, abort } = uploadFile('r', new Blob(['x']), 'x', { XHR: FakeXHR })
    abort()
    await expect(promise).rejects.toBeInstanceOf(UploadCancelled)
  })

  it('builds the upload address from the chat and the name', () => {
    expect(uploadPath('a/b', 'é.png')).toBe('/api/chats/a%2Fb/uploads/?name=%C3%A9.png')
  })
})
