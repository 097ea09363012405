// @vitest-environment node
// Every word the app shows comes from the catalogue (src/locales/): this fails on text
// written straight into a template, a text attribute, or a sentence in the code.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { babelParse, parse, walk } from 'vue/compiler-sfc'

const SRC = fileURLToPath(new URL('.', import.meta.url))

// Attributes whose value people read or hear.
const TEXT_ATTRIBUTES = new Set([
  'aria-label',
  'aria-description',
  'aria-placeholder',
  'aria-roledescription',
  'aria-valuetext',
  'title',
  'placeholder',
  'alt',
  'label',
])
// A component's props that carry text have names like these ("confirm-label").
const TEXT_PROP =
  /label|text|title|placeholder|message|hint|caption|heading|question|prompt|description/i

// Strings in code that look like words but are not shown to anyone, each with why.
const NOT_TEXT = [
  /^\(pointer: coarse\)$/, // a media query
  /^M[\d.\s,MmLlHhVvCcSsQqTtAaZz-]+$/, // an icon's SVG path
  /^hsl\(\{\}, \d+%, \d+%\)$/, // an avatar's colour
]

// Capitalised words code compares with or sends that are not shown: keys and headers.
const KEY_NAMES = new Set([
  'Enter',
  'Escape',
  'Esc',
  'Tab',
  'Backspace',
  'Delete',
  'ArrowUp',
  'ArrowDown',
  'ArrowLeft',
  'ArrowRight',
  'Home',
  'End',
  'Token',
  'Accept', // a request header
  'Files', // what a drag of files carries
])
// Calls whose string arguments are code, not words: selectors and descriptions.
const CODE_CALLS = new Set(['Symbol', 'querySelector', 'querySelectorAll', 'closest', 'matches'])

function sourceFiles(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) return sourceFiles(path)
    return /\.(vue|js)$/.test(name) && !/\.test\.js$/.test(name) ? [path] : []
  })
}

const hasWord = (text) => /\p{L}{2,}/u.test(text)

// A phrase or a sentence: words with a space between them, or a word and an end mark.
function looksLikeProse(text) {
  const trimmed = text.trim()
  if (!hasWord(trimmed)) return false
  if (NOT_TEXT.some((pattern) => pattern.test(trimmed))) return false
  return (
    /\p{L}.*\s.*\p{L}/u.test(trimmed) ||
    /\p{L}[.…!?]$/u.test(trimmed) ||
    // "{} photos", "Hello {}": a word beside a value filled in.
    /\{\} \p{L}{2,}|\p{L}{2,} \{\}/u.test(trimmed) ||
    // "You": a capitalised word on its own, unless it names a key or a header.
    (/^\p{Lu}\p{Ll}+$/u.test(trimmed) && !KEY_NAMES.has(trimmed))
  )
}

function isTranslation(node) {
  const callee = node?.type === 'CallExpression' ? node.callee : null
  if (!callee) return false
  const name = callee.type === 'MemberExpression' ? callee.property?.name : callee.name
  return name === 't' || name === '$t' || name === 'te' || name === '$te'
}

function isConsole(node) {
  return node?.type === 'CallExpression' && node.callee?.object?.name === 'console'
}

// Literals in `code` that are words shown to people. `strict` (a template expression
// bound to text) flags any literal with a word in it; elsewhere only prose, and the
// capitalised value of a property named like `label`.
function literalsIn(code, { strict = false, expression = false } = {}) {
  const ast = babelParse(expression ? `(${code})` : code, {
    sourceType: 'module',
    plugins: [],
  })
  const found = []
  const skip = new WeakSet()
  walk(ast, {
    enter(node, parent, key) {
      if (skip.has(node)) return this.skip()
      const callee = node.type === 'CallExpression' ? node.callee : null
      const called = callee?.type === 'MemberExpression' ? callee.property?.name : callee?.name
      if (isTranslation(node) || isConsole(node) || CODE_CALLS.has(called)) {
        // The key and its arguments; the arguments' own code is checked no further.
        return this.skip()
      }
      if (
        node.type === 'ImportDeclaration' ||
        node.type === 'ExportNamedDeclaration' ||
        node.type === 'ExportAllDeclaration'
      ) {
        if (node.source) skip.add(node.source)
      }
      if ((node.type === 'ObjectProperty' || node.type === 'ObjectMethod') && !node.computed) {
        skip.add(node.key)
      }
      // `status === 'uploading'` compares with a value; it shows nothing.
      const compared = parent?.type === 'BinaryExpression' && /^[!=]==?$/.test(parent.operator)
      if (node.type === 'StringLiteral' && !compared) {
        const text = node.value
        const propertyName =
          key === 'value' && parent?.type === 'ObjectProperty' && parent.key?.name
        const labelled = propertyName && TEXT_PROP.test(propertyName) && /^\p{Lu}\p{Ll}/u.test(text)
        if (strict ? hasWord(text) : looksLikeProse(text) || labelled) found.push(text)
      }
      if (node.type === 'TemplateLiteral') {
        const text = node.quasis.map((q) => q.value.cooked).join('{}')
        if (strict ? hasWord(text) : looksLikeProse(text)) found.push(text)
      }
    },
  })
  return found
}

function templateFindings(ast) {
  const found = []
  const visit = (node) => {
    if (node.type === 2 && hasWord(node.content)) found.push(node.content.trim())
    if (node.type === 5)
      found.push(...literalsIn(node.content.content, { strict: true, expression: true }))
    if (node.type === 1) {
      const component = /^[A-Z]/.test(node.tag)
      for (const prop of node.props) {
        if (prop.type === 6) {
          const text = prop.value?.content || ''
          const shown = TEXT_ATTRIBUTES.has(prop.name) || (component && TEXT_PROP.test(prop.name))
          if (shown && hasWord(text)) found.push(`${prop.name}="${text}"`)
        }
        if (prop.type === 7 && prop.exp) {
          const arg = prop.arg?.content || ''
          const shown =
            TEXT_ATTRIBUTES.has(arg) || (component && TEXT_PROP.test(arg)) || prop.name === 'text'
          const code = prop.exp.content
          if (prop.name === 'for' || prop.name === 'slot') continue
          const handler = prop.name === 'on'
          found.push(
            ...literalsIn(code, { strict: shown, expression: !handler }).map(
              (text) => `${prop.rawName}: ${text}`,
            ),
          )
        }
      }
    }
    for (const child of node.children || []) visit(child)
    for (const branch of node.branches || []) visit(branch)
  }
  visit(ast)
  return found
}

function findingsIn(path) {
  const source = readFileSync(path, 'utf8')
  if (path.endsWith('.js')) return literalsIn(source)
  const { descriptor } = parse(source, { filename: path })
  const script = descriptor.scriptSetup || descriptor.script
  return [
    ...(descriptor.template ? templateFindings(descriptor.template.ast) : []),
    ...(script ? literalsIn(script.content) : []),
  ]
}

describe('the words the app shows', () => {
  const files = sourceFiles(SRC).filter((path) => !path.includes(`${SRC}locales`))

  it('finds the app’s sources', () => {
    expect(files.length).toBeGreaterThan(20)
  })

  it.each(files.map((path) => [relative(SRC, path), path]))(
    '%s has no hard-coded text',
    (name, path) => {
      // One finding a line, so a failure lists them all.
      expect(findingsIn(path).join('\n')).toBe('')
    },
  )
})

describe('the hard-coded text check', () => {
  const sfc = (body) => {
    const { descriptor } = parse(body)
    return templateFindings(descriptor.template.ast)
  }

  it('catches text between tags and in labels', () => {
    expect(sfc('<template><p>Hello</p></template>')).toEqual(['Hello'])
    expect(sfc('<template><button aria-label="Close" /></template>')).toEqual([
      'aria-label="Close"',
    ])
    expect(sfc(`<template><b :title="ok ? 'Yes' : 'No'" /></template>`)).toHaveLength(2)
    expect(sfc(`<template><b>{{ n === 1 ? 'reply' : 'replies' }}</b></template>`)).toHaveLength(2)
  })

  it('accepts text from the catalogue', () => {
    expect(sfc(`<template><p :title="t('a.b')">{{ t('a.c', { n }) }}</p></template>`)).toEqual([])
    expect(sfc(`<template><p :class="{ on: x === 'chat' }">#{{ name }}</p></template>`)).toEqual([])
  })

  it('catches sentences in code but not code', () => {
    expect(literalsIn(`const e = 'The upload failed.'`)).toEqual(['The upload failed.'])
    expect(literalsIn('const x = `${n} were left out`')).toEqual(['{} were left out'])
    expect(literalsIn(`const l = [{ value: 'muted', label: 'Muted' }]`)).toEqual(['Muted'])
    expect(literalsIn(`import a from './a.js'; const k = 'Escape'; api('/api/chats/')`)).toEqual([])
    expect(literalsIn(`const s = t('upload.failed', { name: 'x y' })`)).toEqual([])
  })
})
