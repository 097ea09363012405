import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { build, defineConfig } from 'vite'
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
    async closeBundle(error) {
      // A failed build wrote nothing to move.
      if (error) return
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
      await buildServiceWorker(html)
    },
  }
}

// static/sw.js (served at /sw.js), built once the app is: it stores the app shell and
// every file of static/, under a cache named after a hash of all of them, so any
// change to the build makes a new worker that replaces the old cache.
async function buildServiceWorker(html) {
  const files = readdirSync(outDir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => `${entry.parentPath.slice(outDir.length + 1)}/${entry.name}`.replace(/^\//, ''))
    .filter((name) => name !== 'sw.js')
    .sort()
  const hash = createHash('sha256').update(html)
  for (const name of files) hash.update(`\0${name}\0`).update(readFileSync(`${outDir}/${name}`))
  await build({
    configFile: false,
    publicDir: false,
    logLevel: 'warn',
    define: {
      __VERSION__: JSON.stringify(hash.digest('hex').slice(0, 16)),
      __PRECACHE__: JSON.stringify(['/', ...files.map((name) => `/static/${name}`)]),
    },
    build: {
      outDir,
      emptyOutDir: false,
      lib: {
        entry: here('src/sw/sw.js'),
        formats: ['iife'],
        name: 'chatboxWorker',
        fileName: () => 'sw.js',
      },
    },
  })
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
    // 228 kB before languages; vue-i18n with its message compiler and the two
    // catalogues brought it to 310 kB (107 kB gzipped), still one request.
    chunkSizeWarningLimit: 350,
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.js'],
    setupFiles: ['src/testSetup.js'],
  },
})
