import { describe, expect, it } from 'vitest'
import { attachmentKind, MIN_PHOTO_SIDE, photoBox, photosOf } from './attachments.js'

const photo = (id, extra = {}) => ({
  id,
  name: `${id}.jpg`,
  type: 'image/jpeg',
  width: 1600,
  height: 1200,
  thumbnail_url: `/api/files/${id}/thumbnail`,
  url: `/api/files/${id}/${id}.jpg`,
  inline: true,
  ...extra,
})

describe('attachmentKind', () => {
  it('shows photos with a thumbnail and a size as photos', () => {
    expect(attachmentKind(photo(1))).toBe('photo')
    expect(attachmentKind(photo(1, { thumbnail_url: null }))).toBe('file')
    expect(attachmentKind(photo(1, { width: null }))).toBe('file')
  })

  it('plays only the audio and video the server marks safe to show', () => {
    expect(attachmentKind({ type: 'audio/mpeg', inline: true })).toBe('audio')
    expect(attachmentKind({ type: 'video/webm', inline: true })).toBe('video')
    expect(attachmentKind({ type: 'video/x-msvideo', inline: false })).toBe('file')
  })

  it('offers everything else, SVG and HTML included, as a download', () => {
    expect(attachmentKind({ type: 'image/svg+xml', inline: false })).toBe('file')
    expect(attachmentKind({ type: 'text/html', inline: false })).toBe('file')
    expect(attachmentKind(null)).toBe('file')
  })
})

describe('photoBox', () => {
  it('keeps the photo’s shape at the longest side allowed', () => {
    expect(photoBox(1600, 1200, 320)).toEqual({ width: 320, height: 240, ratio: '320 / 240' })
    expect(photoBox(1200, 1600, 320)).toEqual({ width: 240, height: 320, ratio: '240 / 320' })
  })

  it('never makes a small photo larger than it is', () => {
    expect(photoBox(100, 50, 320)).toEqual({ width: 100, height: 50, ratio: '100 / 50' })
  })

  it('keeps a thin panorama wide enough to see and click', () => {
    const box = photoBox(8000, 200, 320)
    expect(box.width).toBe(320)
    expect(box.height).toBe(MIN_PHOTO_SIDE)
  })
})

describe('photosOf', () => {
  it('lists every photo of the messages oldest first, without other files or deleted ones', () => {
    const messages = [
      { id: 1, attachments: [photo(10), { id: 11, type: 'application/pdf' }, photo(12)] },
      { id: 2, attachments: [] },
      { id: 3, deleted: true, attachments: [photo(13)] },
      { id: 4 },
      { id: 5, attachments: [photo(14)] },
    ]
    expect(photosOf(messages).map((p) => [p.message.id, p.file.id])).toEqual([
      [1, 10],
      [1, 12],
      [5, 14],
    ])
  })

  it('lists a photo once though a pending send and its stored copy both show it', () => {
    const messages = [
      { id: 1, attachments: [photo(10)] },
      { id: null, attachments: [photo(10)] },
    ]
    expect(photosOf(messages)).toHaveLength(1)
  })
})
