import { readFileSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

const here = (path) => fileURLToPath(new URL(path, import.meta.url))
const outDir = here('../static')
const shell = here('../templates/app.html')

// Tornado serves the page from templates/ and everything else from static/. The page
// goes through Tornado's template engine, so it must not contain template syntax.
function appShellToTemplates() {
  return {
    name: 'chatbox-app-shell',
    apply: 'build',
    closeBundle() {
      const built = `${outDir}/index.html`
      const html = readFileSync(built, 'utf8')
      if (/\{\{|\{%|\{#/.test(html)) {
        throw new Error('index.html contains Tornado template syntax ({{, {% or {#)')
      }
      if (/<script(?![^>]*\bsrc=)[^>]*>|<style/i.test(html)) {
        throw new Error('index.html has inline script or style, which the CSP forbids')
      }
      writeFileSync(shell, html)
      // static/ keeps only hashed assets and public files; the page lives in templates/.
      rmSync(built)
    },
  }
}

export default defineConfig({
  base: '/static/',
  // vue-i18n's build-time switches: the Composition API only, no devtools hook.
  define: {
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  plugins: [vue(), appShellToTemplates()],
  build: {
    outDir,
    emptyOutDir: true,
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 300,
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.js'],
    setupFiles: ['src/testSetup.js'],
  },
})
