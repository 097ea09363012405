// How a message shows each file it carries (docs/files.md): photos as thumbnails whose
// box has the photo's shape before a byte of it arrives, safe audio and video in
// players, anything else as a download.

// The longest side of a photo in a message, in CSS pixels: the server's thumbnails are
// at most 480 px on theirs, so this stays sharp on screens of up to 1.5 times density.
export const PHOTO_SIDE = 320
// Thin panoramas and long screenshots keep at least this much on their short side, so
// they can be seen and clicked; the picture is cropped to fill the box.
export const MIN_PHOTO_SIDE = 48

export function attachmentKind(file) {
  if (!file || typeof file !== 'object') return 'file'
  if (file.thumbnail_url && file.width > 0 && file.height > 0) return 'photo'
  if (file.inline && /^audio\//.test(file.type || '')) return 'audio'
  if (file.inline && /^video\//.test(file.type || '')) return 'video'
  return 'file'
}

// The box a photo is shown in, from its width and height: at most `side` on its long
// side (never larger than the photo itself) and at least MIN_PHOTO_SIDE on its short
// one. `ratio` is for CSS aspect-ratio, which keeps the shape when the box is narrowed.
export function photoBox(width, height, side = PHOTO_SIDE) {
  const scale = Math.min(1, side / Math.max(width, height))
  const w = Math.max(MIN_PHOTO_SIDE, Math.round(width * scale))
  const h = Math.max(MIN_PHOTO_SIDE, Math.round(height * scale))
  return { width: w, height: h, ratio: `${w} / ${h}` }
}

// Every photo of the messages, oldest first, each once.
export function photosOf(messages) {
  const seen = new Set()
  const photos = []
  for (const message of messages) {
    if (message.deleted) continue
    for (const file of message.attachments || []) {
      if (attachmentKind(file) !== 'photo' || seen.has(file.id)) continue
      seen.add(file.id)
      photos.push({ file, message })
    }
  }
  return photos
}
