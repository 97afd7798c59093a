import type { Algorithm } from '../verifier/options.js'
import type { CheckedHeader } from './check-header.js'
import { checkHeader } from './check-header.js'
import { decodeHeader } from './decode-jws.js'

/** Distinct headers remembered: an issuer uses one per signing key. */
const MAX_HEADERS = 64

/**
 * Remembers the encoded headers that passed the checks. All tokens signed with one key share one
 * header, so the hot path looks the segment up instead of decoding and checking it again. Only
 * headers that passed are stored, and a full map is simply emptied, so a flood of odd headers
 * costs a check each time and nothing more.
 */
export class HeaderCache {
  readonly #map = new Map<string, CheckedHeader>()
  readonly #allowed: ReadonlySet<Algorithm>
  /** The last header seen, compared in place without slicing the token. */
  #lastSegment = ''
  #last: CheckedHeader | undefined

  constructor(allowed: ReadonlySet<Algorithm>) {
    this.#allowed = allowed
  }

  /** The checked header of the token whose header segment ends at `dot1`; throws the check's
   * error. */
  get(token: string, dot1: number): CheckedHeader {
    if (
      this.#last !== undefined &&
      dot1 === this.#lastSegment.length &&
      token.startsWith(this.#lastSegment)
    ) {
      return this.#last
    }
    const segment = token.slice(0, dot1)
    let checked = this.#map.get(segment)
    if (!checked) {
      checked = checkHeader(decodeHeader(segment), this.#allowed)
      if (this.#map.size >= MAX_HEADERS) this.#map.clear()
      this.#map.set(segment, checked)
    }
    this.#lastSegment = segment
    this.#last = checked
    return checked
  }
}
