import js from '@eslint/js'
import prettier from 'eslint-config-prettier/flat'
import vue from 'eslint-plugin-vue'
import globals from 'globals'

export default [
  // The build writes ../static, outside this folder; dist and coverage are what other
  // tools leave behind when run by hand.
  { ignores: ['dist/**', 'coverage/**', 'public/**'] },
  js.configs.recommended,
  ...vue.configs['flat/recommended'],
  {
    files: ['src/**/*.{js,vue}'],
    languageOptions: { globals: globals.browser },
  },
  {
    files: ['*.config.js', 'scripts/**/*.{js,mjs}'],
    languageOptions: { globals: globals.node },
  },
  {
    rules: {
      // Every component is written the same way: <script setup>, then <template>, then
      // <style scoped>, so a reader always finds the parts in one place.
      'vue/component-api-style': ['error', ['script-setup']],
      'vue/block-order': ['error', { order: ['script[setup]', 'template', 'style[scoped]'] }],
      'vue/enforce-style-attribute': ['error', { allow: ['scoped'] }],
      // Message text is shown as text; links are built from it, never parsed HTML.
      'vue/no-v-html': 'error',
      // `const { a, ...rest } = x` is how a field is left out of a copy.
      'no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  // Last, so Prettier alone decides layout.
  prettier,
]
