// Avatars are drawn, never fetched: initials on a colour that follows from the name.
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
