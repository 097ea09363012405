// Splits message text into text and link pieces, so the template renders links as <a>
// elements and everything else as plain text: no HTML from a message ever reaches the
// DOM as markup. Only http(s) URLs become links, so no javascript: or data: href.
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi
const TRAILING = /[.,;:!?'"*_]+$/

function trimUrl(url) {
  let end = url.replace(TRAILING, '')
  // "(see http://x/y)" should not swallow the closing bracket, but keep balanced ones.
  while (end.endsWith(')') && count(end, '(') < count(end, ')')) {
    end = end.slice(0, -1).replace(TRAILING, '')
  }
  return end
}

function count(text, char) {
  return text.split(char).length - 1
}

export function linkify(text) {
  const parts = []
  let last = 0
  for (const match of text.matchAll(URL_RE)) {
    const url = trimUrl(match[0])
    if (match.index > last) parts.push({ type: 'text', text: text.slice(last, match.index) })
    parts.push({ type: 'link', text: url, href: url })
    last = match.index + url.length
  }
  if (last < text.length) parts.push({ type: 'text', text: text.slice(last) })
  return parts
}
