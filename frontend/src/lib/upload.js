// Sending one file's bytes to a chat (POST /api/chats/<uri>/uploads/?name=…): by
// XMLHttpRequest rather than fetch, because only it reports upload progress. The
// session cookie authenticates it and X-XSRFToken carries the XSRF check, as for every
// other write of the web app (lib/api.js).
import { ApiError, xsrfToken } from './api.js'

export class UploadCancelled extends Error {
  constructor() {
    super('The upload was cancelled.')
  }
}

export function uploadPath(uri, name) {
  return `/api/chats/${encodeURIComponent(uri)}/uploads/?name=${encodeURIComponent(name)}`
}

const TOO_BIG = 'The file is larger than the chat server accepts.'

function answerOf(xhr) {
  const text = xhr.responseText
  if (!text) return null
  try {
    return JSON.parse(text)
  } catch {
    return { detail: text.slice(0, 200) }
  }
}

// Starts the upload at once. `promise` resolves with the server's file object, or
// rejects with an ApiError (the server's reason) or UploadCancelled after `abort()`.
export function uploadFile(uri, file, name, { onProgress = () => {}, XHR = XMLHttpRequest } = {}) {
  const xhr = new XHR()
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', uploadPath(uri, name))
    xhr.setRequestHeader('Accept', 'application/json')
    xhr.setRequestHeader('X-XSRFToken', xsrfToken())
    xhr.upload.onprogress = (event) => onProgress(event.loaded, event.total)
    xhr.onload = () => {
      // A proxy in front of the box may refuse a large body with no JSON of its own.
      const data = answerOf(xhr) || (xhr.status === 413 ? { detail: TOO_BIG } : null)
      if (xhr.status >= 200 && xhr.status < 300) resolve(data)
      else {
        const retry = Number(xhr.getResponseHeader('Retry-After')) || null
        reject(new ApiError(xhr.status, data, retry))
      }
    }
    xhr.onerror = () => reject(new ApiError(0, null))
    xhr.onabort = () => reject(new UploadCancelled())
    xhr.send(file)
  })
  return { promise, abort: () => xhr.abort() }
}
