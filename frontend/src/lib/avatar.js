// Avatars without a profile picture are drawn, never fetched: initials on a colour that
// follows from the name.
export function initials(username = '') {
  const words = username.split(/[._\-\s]+/).filter(Boolean)
  if (words.length >= 2) return (words[0][0] + words[1][0]).toUpperCase()
  return (username.slice(0, 1) || '?').toUpperCase()
}

export function avatarColour(username = '') {
  let hash = 0
  for (const char of username.toLowerCase()) {
    hash = (hash * 31 + char.codePointAt(0)) >>> 0
  }
  // Mid lightness and saturation keep white initials readable on every hue.
  return `hsl(${hash % 360}, 55%, 40%)`
}

// The address of a profile picture for an avatar `size` CSS pixels wide: the server
// keeps it at 256 px (the `avatar_url` every user object carries) and at 64 px, which
// is sharp enough for an avatar up to 32 px on a screen of twice the density.
export function avatarSource(url, size) {
  if (!url) return null
  return size <= 32 ? url.replace(/\/256\.jpg(?=\?|$)/, '/64.jpg') : url
}
