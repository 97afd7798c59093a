/**
 * Stand-ins for React Native's built-in `URL` and `URLSearchParams`
 * (react-native/Libraries/Blob/URL.js, as shipped without react-native-url-polyfill): `URL`
 * keeps the string it was given (adding a trailing `/`), answers `href`, `toString()`,
 * `toJSON()` and a `searchParams` that only appends; every other getter throws
 * `URL.<name> is not implemented`. `URLSearchParams` takes an object (a string is ignored),
 * implements `append` and `toString`, and throws for the rest. Its own tests are in
 * test/unit/react-native.test.ts.
 */
export class RNURLSearchParams {
  _searchParams: [string, string][] = []

  constructor(params?: unknown) {
    if (typeof params === 'object' && params !== null) {
      for (const [k, v] of Object.entries(params)) this.append(k, String(v))
    }
  }

  append(key: string, value: string): void {
    this._searchParams.push([key, value])
  }

  delete(): never {
    throw new Error('URLSearchParams.delete is not implemented')
  }
  get(): never {
    throw new Error('URLSearchParams.get is not implemented')
  }
  getAll(): never {
    throw new Error('URLSearchParams.getAll is not implemented')
  }
  has(): never {
    throw new Error('URLSearchParams.has is not implemented')
  }
  set(): never {
    throw new Error('URLSearchParams.set is not implemented')
  }
  sort(): never {
    throw new Error('URLSearchParams.sort is not implemented')
  }

  toString(): string {
    return this._searchParams
      .map(([k, v]) => encodeURIComponent(k) + '=' + encodeURIComponent(v))
      .join('&')
  }
}

const notImplemented = (name: string): never => {
  throw new Error(`URL.${name} is not implemented`)
}

export class RNURL {
  _url: string
  _searchParamsInstance: RNURLSearchParams | null = null

  constructor(url: string, base?: string | RNURL) {
    if (base === undefined) {
      this._url = url.endsWith('/') ? url : url + '/'
    } else {
      let b = typeof base === 'string' ? base : base.toString()
      if (b.endsWith('/')) b = b.slice(0, -1)
      this._url = b + (url.startsWith('/') ? url : '/' + url)
    }
  }

  get hash(): string {
    return notImplemented('hash')
  }
  get host(): string {
    return notImplemented('host')
  }
  get hostname(): string {
    return notImplemented('hostname')
  }
  get origin(): string {
    return notImplemented('origin')
  }
  get password(): string {
    return notImplemented('password')
  }
  get pathname(): string {
    return notImplemented('pathname')
  }
  get port(): string {
    return notImplemented('port')
  }
  get protocol(): string {
    return notImplemented('protocol')
  }
  get search(): string {
    return notImplemented('search')
  }
  get username(): string {
    return notImplemented('username')
  }

  get href(): string {
    return this.toString()
  }

  get searchParams(): RNURLSearchParams {
    this._searchParamsInstance ??= new RNURLSearchParams()
    return this._searchParamsInstance
  }

  toJSON(): string {
    return this.toString()
  }

  toString(): string {
    if (this._searchParamsInstance === null) return this._url
    const sep = this._url.includes('?') ? '&' : '?'
    return this._url + sep + this._searchParamsInstance.toString()
  }
}
