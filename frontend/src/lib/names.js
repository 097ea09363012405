// How names are shown. The admin page shows a username as it is: a name from before
// the server's name rules may hold characters that draw nothing (a newline, a
// zero-width space, a right-to-left override), so two accounts could look alike. Those
// characters are written out as their code points, so the administrator sees which
// account is which.

// Controls, format characters, separators, private-use and unassigned code points, and
// the letters that are drawn as blank space.
const HIDDEN = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Co}\p{Cn}\u115f\u1160\u3164\uffa0\u2800]/gu

export function revealHidden(name) {
  return name.replace(
    HIDDEN,
    (char) => `<U+${char.codePointAt(0).toString(16).toUpperCase().padStart(4, '0')}>`,
  )
}

// The name a person goes by in the app: the display name they chose, else their
// username (the handle, which is unique and always there).
export function shownName(user) {
  const chosen = typeof user?.display_name === 'string' ? user.display_name.trim() : ''
  return chosen || user?.username || ''
}
