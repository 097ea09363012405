import { mount } from '@vue/test-utils'
import { describe, expect, it } from 'vitest'
import SearchSnippet from './SearchSnippet.vue'

describe('SearchSnippet', () => {
  it('marks the matched words and shows the rest as text', () => {
    const wrapper = mount(SearchSnippet, {
      props: {
        result: {
          snippet: [
            { text: 'the ', match: false },
            { text: 'wifi', match: true },
            { text: ' password is ', match: false },
            { text: 'pass', match: true },
          ],
        },
      },
    })
    expect(wrapper.text()).toBe('the wifi password is pass')
    expect(wrapper.findAll('mark').map((m) => m.text())).toEqual(['wifi', 'pass'])
  })

  it('never turns the server’s text into elements', () => {
    const wrapper = mount(SearchSnippet, {
      props: {
        result: {
          snippet: [
            { text: '<img src=x onerror=alert(1)>', match: true },
            { text: '<b>bold</b>', match: false },
          ],
        },
      },
    })
    expect(wrapper.find('img').exists()).toBe(false)
    expect(wrapper.find('b').exists()).toBe(false)
    expect(wrapper.find('mark').text()).toBe('<img src=x onerror=alert(1)>')
  })
})
