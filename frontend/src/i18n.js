// The app's words in each language it speaks (src/locales/<code>.json), which one is
// shown, and the locale dates and numbers follow. English is the reference: every
// catalogue has the same keys (src/i18n.test.js says so).
import { createI18n } from 'vue-i18n'
import en from './locales/en.json'
import fr from './locales/fr.json'
import { load, save } from './lib/storage.js'

const catalogues = { en, fr }
export const LANGUAGES = Object.keys(catalogues)
export const FALLBACK = 'en'
const STORAGE_KEY = 'chatbox.language'

// The first of the browser's languages that we speak ("fr-CA" is French), else English.
export function pickLanguage(preferred = [], saved = null) {
  if (LANGUAGES.includes(saved)) return saved
  for (const tag of preferred) {
    const code = String(tag).toLowerCase().split('-')[0]
    if (LANGUAGES.includes(code)) return code
  }
  return FALLBACK
}

function browserLanguages() {
  if (typeof navigator === 'undefined') return []
  return navigator.languages?.length ? navigator.languages : [navigator.language].filter(Boolean)
}

// Plural forms are written "one | other", and which one a count takes is the language's
// own rule from CLDR (French says "0 réaction", English "0 reactions").
function cldrPlural(code) {
  const rules = new Intl.PluralRules(code)
  return (count, forms) => (forms < 2 || rules.select(Math.abs(count)) === 'one' ? 0 : 1)
}

export const i18n = createI18n({
  legacy: false,
  locale: pickLanguage(browserLanguages(), load(STORAGE_KEY, null)),
  fallbackLocale: FALLBACK,
  messages: catalogues,
  pluralRules: Object.fromEntries(LANGUAGES.map((code) => [code, cldrPlural(code)])),
  // A missing key is a bug the catalogue test catches; no console noise in between.
  missingWarn: false,
  fallbackWarn: false,
})

// For code outside components (helpers in lib/, the store): the same translator.
export function t(...args) {
  return i18n.global.t(...args)
}

export function language() {
  return i18n.global.locale.value
}

// The locale dates and numbers follow: the browser's own tag when it speaks the chosen
// language ("en-GB" keeps its 24-hour clock), else the language itself.
export function formatLocale(code = language(), preferred = browserLanguages()) {
  const regional = preferred.find((tag) => String(tag).toLowerCase().split('-')[0] === code)
  return regional || code
}

function showLanguage(code) {
  if (typeof document !== 'undefined') document.documentElement.lang = code
}

export function setLanguage(code) {
  if (!LANGUAGES.includes(code)) return
  i18n.global.locale.value = code
  save(STORAGE_KEY, code)
  showLanguage(code)
}

showLanguage(language())
