/** A scope token: `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 3.3). */
export const SCOPE_TOKEN = /^[\x21\x23-\x5b\x5d-\x7e]+$/
