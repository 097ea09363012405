import { describe, expect, it } from 'vitest'
import en from './locales/en.json'
import fr from './locales/fr.json'
import { formatLocale, i18n, LANGUAGES, pickLanguage, setLanguage, t } from './i18n.js'

const catalogues = { en, fr }

// {"a": {"b": "x"}} -> {"a.b": "x"}
function flatten(tree, prefix = '') {
  return Object.entries(tree).reduce((flat, [key, value]) => {
    const path = prefix ? `${prefix}.${key}` : key
    return typeof value === 'string'
      ? { ...flat, [path]: value }
      : { ...flat, ...flatten(value, path) }
  }, {})
}

const placeholders = (text) => [...text.matchAll(/\{\s*(\w+)\s*\}/g)].map((m) => m[1]).sort()
const forms = (text) => text.split(' | ').length

describe('the catalogues', () => {
  const reference = flatten(en)

  it('are one for each language the app offers', () => {
    expect(LANGUAGES.sort()).toEqual(Object.keys(catalogues).sort())
  })

  it.each(Object.keys(catalogues).filter((code) => code !== 'en'))(
    '%s has exactly the keys the English one has',
    (code) => {
      expect(Object.keys(flatten(catalogues[code])).sort()).toEqual(Object.keys(reference).sort())
    },
  )

  it.each(Object.keys(catalogues).filter((code) => code !== 'en'))(
    '%s has the same placeholders and plural forms per key',
    (code) => {
      const other = flatten(catalogues[code])
      for (const [key, text] of Object.entries(reference)) {
        expect([key, placeholders(other[key] || '')]).toEqual([key, placeholders(text)])
        expect([key, forms(other[key] || '')]).toEqual([key, forms(text)])
      }
    },
  )

  it.each(Object.keys(catalogues))('%s has no empty message', (code) => {
    for (const [key, text] of Object.entries(flatten(catalogues[code]))) {
      expect([key, text.trim().length > 0]).toEqual([key, true])
    }
  })

  it.each(Object.keys(catalogues))(
    'every %s message compiles and fills its placeholders',
    (code) => {
      const composer = i18n.global
      for (const [key, text] of Object.entries(flatten(catalogues[code]))) {
        const named = Object.fromEntries(placeholders(text).map((name) => [name, `<${name}>`]))
        const shown = composer.t(key, named, { locale: code, plural: 2 })
        expect(typeof shown).toBe('string')
        expect([key, /\{\s*\w+\s*\}/.test(shown)]).toEqual([key, false])
      }
    },
  )

  it('names each language in that language', () => {
    expect(en.language.name).toBe('English')
    expect(fr.language.name).toBe('Français')
  })
})

describe('the language', () => {
  it('is the first of the browser’s languages the app speaks', () => {
    expect(pickLanguage(['de-DE', 'fr-CA', 'en-US'])).toBe('fr')
    expect(pickLanguage(['en-GB', 'fr'])).toBe('en')
    expect(pickLanguage(['de', 'ja'])).toBe('en')
    expect(pickLanguage([])).toBe('en')
  })

  it('is the one the person chose, once they have chosen', () => {
    expect(pickLanguage(['fr-FR'], 'en')).toBe('en')
    expect(pickLanguage(['en-US'], 'fr')).toBe('fr')
    expect(pickLanguage(['fr-FR'], 'xx')).toBe('fr')
  })

  it('dates follow the browser’s region when it speaks the language', () => {
    expect(formatLocale('en', ['en-GB', 'fr'])).toBe('en-GB')
    expect(formatLocale('fr', ['en-GB', 'fr-CA'])).toBe('fr-CA')
    expect(formatLocale('fr', ['en-US'])).toBe('fr')
  })

  it('changes the words, the page’s lang and is remembered', () => {
    setLanguage('fr')
    expect(t('topBar.logOut')).toBe('Se déconnecter')
    expect(document.documentElement.lang).toBe('fr')
    expect(JSON.parse(localStorage.getItem('chatbox.language'))).toBe('fr')
    setLanguage('en')
    expect(t('topBar.logOut')).toBe('Log out')
    expect(document.documentElement.lang).toBe('en')
  })

  it('counts with each language’s plural rule', () => {
    setLanguage('fr')
    expect(t('unread.mentions', 0)).toBe('0 mention')
    expect(t('unread.mentions', 1)).toBe('1 mention')
    expect(t('unread.mentions', 2)).toBe('2 mentions')
    setLanguage('en')
    expect(t('unread.mentions', 0)).toBe('0 mentions')
    expect(t('unread.mentions', 1)).toBe('1 mention')
    expect(t('unread.mentions', 3)).toBe('3 mentions')
  })
})
