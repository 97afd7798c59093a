import { describe, expect, it } from 'vitest'
import { CookieJar } from '../lib/cookie-jar.js'

describe('CookieJar', () => {
  it('keeps the latest value of each cookie and drops cookies the server expires', () => {
    const jar = new CookieJar()
    jar.store({
      'set-cookie': ['_interaction=a; path=/interaction/1; httponly', '_session=s; path=/'],
    })
    expect(jar.header()).toEqual({ cookie: '_interaction=a; _session=s' })
    jar.store({
      'set-cookie': [
        '_interaction=b; path=/interaction/2',
        '_session=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT',
      ],
    })
    expect(jar.header()).toEqual({ cookie: '_interaction=b' })
    jar.store({ 'set-cookie': ['_interaction=c; Max-Age=0'] })
    expect(jar.header()).toEqual({})
  })
})
