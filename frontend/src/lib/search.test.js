import { describe, expect, it } from 'vitest'
import {
  canSearch,
  dayAfter,
  emptySearch,
  peopleIn,
  searchFromQuery,
  searchParams,
  searchPath,
  snippetParts,
  startOf,
  stepThrough,
} from './search.js'

const query = (params) => Object.fromEntries(params)

describe('the search query', () => {
  it('asks for the words alone when no filter is set', () => {
    const params = searchParams({ ...emptySearch(), q: '  wifi pass ' }, { limit: 20 })
    expect(query(params)).toEqual({ q: 'wifi pass', limit: '20' })
  })

  it('names each filter as the server calls it', () => {
    const search = {
      q: 'pass',
      chat: 'general',
      from: 'amber',
      since: '2026-03-01',
      until: '2026-03-31',
      hasFile: true,
    }
    expect(query(searchParams(search, { limit: 20, cursor: 'abc' }))).toEqual({
      q: 'pass',
      chat: 'general',
      from: 'amber',
      // The reader's days, whatever the time zone; "To date" includes its whole day.
      after: new Date(2026, 2, 1).toISOString(),
      before: new Date(2026, 3, 1).toISOString(),
      has: 'file',
      limit: '20',
      cursor: 'abc',
    })
  })

  it('starts a day at local midnight', () => {
    expect(new Date(startOf('2026-03-01')).getHours()).toBe(0)
    expect(new Date(startOf('2026-03-01')).getDate()).toBe(1)
  })

  it('ends a range at the start of the next day, across months and years', () => {
    expect(dayAfter('2026-02-28')).toBe('2026-03-01')
    expect(dayAfter('2024-02-28')).toBe('2024-02-29')
    expect(dayAfter('2025-12-31')).toBe('2026-01-01')
  })

  it('has nothing to ask until there are words', () => {
    expect(canSearch({ ...emptySearch(), q: '   ', hasFile: true })).toBe(false)
    expect(canSearch({ ...emptySearch(), q: 'a' })).toBe(true)
  })
})

describe("the search page's address", () => {
  it('round-trips every filter', () => {
    const search = {
      q: 'café & co',
      chat: 'a/b',
      from: 'amber',
      since: '2026-03-01',
      until: '2026-03-02',
      hasFile: true,
    }
    const path = searchPath(search)
    expect(path.startsWith('/search?')).toBe(true)
    const back = searchFromQuery(query(new URLSearchParams(path.split('?')[1])))
    expect(back).toEqual(search)
  })

  it('leaves out empty filters, and is bare with nothing asked', () => {
    expect(searchPath(emptySearch())).toBe('/search')
    expect(searchPath({ ...emptySearch(), q: 'hi' })).toBe('/search?q=hi')
  })

  it('ignores what it does not understand', () => {
    expect(searchFromQuery({ q: ['a', 'b'], since: 'yesterday', has: 'photo' })).toEqual(
      emptySearch(),
    )
  })
})

describe('a snippet', () => {
  it('keeps the pieces in order, marking the matched ones', () => {
    const result = {
      snippet: [
        { text: 'the ', match: false },
        { text: 'wifi', match: true },
        { text: ' password', match: false },
      ],
    }
    expect(snippetParts(result)).toEqual(result.snippet)
  })

  it('joins neighbours of the same kind and drops empty or malformed pieces', () => {
    const result = {
      snippet: [
        { text: 'a', match: false },
        { text: '', match: true },
        { text: 'b', match: false },
        { text: 'wi', match: true },
        { text: 'fi', match: true },
        { text: 3, match: false },
        null,
        { text: '<b>x</b>', match: 'yes' },
      ],
    }
    expect(snippetParts(result)).toEqual([
      { text: 'ab', match: false },
      { text: 'wifi', match: true },
      { text: '<b>x</b>', match: false },
    ])
  })

  it("falls back to the message's text, unmarked", () => {
    expect(snippetParts({ message: { message: 'hello' } })).toEqual([
      { text: 'hello', match: false },
    ])
    expect(snippetParts({ snippet: [], message: { message: '' } })).toEqual([])
  })
})

describe('moving through results with the keyboard', () => {
  it('goes down from the search box to the first, and stops at either end', () => {
    expect(stepThrough(-1, 'ArrowDown', 3)).toBe(0)
    expect(stepThrough(0, 'ArrowDown', 3)).toBe(1)
    expect(stepThrough(2, 'ArrowDown', 3)).toBe(2)
    expect(stepThrough(1, 'ArrowUp', 3)).toBe(0)
    expect(stepThrough(0, 'ArrowUp', 3)).toBe(0)
  })

  it('jumps to the first and last, and ignores other keys and empty lists', () => {
    expect(stepThrough(1, 'Home', 3)).toBe(0)
    expect(stepThrough(0, 'End', 3)).toBe(2)
    expect(stepThrough(0, 'Enter', 3)).toBe(null)
    expect(stepThrough(-1, 'ArrowDown', 0)).toBe(null)
  })
})

describe('the people to filter by', () => {
  const amber = { id: 1, username: 'amber', display_name: 'Zoë' }
  const basil = { id: 2, username: 'basil' }
  const cora = { id: 3, username: 'cora', display_name: '' }

  it("gathers each chat's people once, by the name shown", () => {
    const rooms = [
      { uri: 'a', owner: basil, members: [basil, cora] },
      { uri: 'b', direct_with: amber, members: [] },
    ]
    const details = { a: { members: [basil, cora, amber] } }
    expect(peopleIn(rooms, details, cora).map((p) => p.username)).toEqual([
      'basil',
      'cora',
      'amber',
    ])
  })
})
