// Components in tests speak English, as they do for a browser that asks for it.
import { config } from '@vue/test-utils'
import { i18n } from './i18n.js'

i18n.global.locale.value = 'en'
config.global.plugins = [...(config.global.plugins || []), i18n]
