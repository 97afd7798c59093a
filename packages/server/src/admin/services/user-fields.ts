import { InvalidRequest } from '../../oauth/errors.js'

/** Limits of the user fields an admin may set; checked by the service, so every caller gets them. */
export const USER_LIMITS = { email: 254, name: 200, metadataBytes: 16_384, search: 128 } as const

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/

/** A plausible address: one `@`, no spaces or control characters. Deliverability is not checked. */
export function checkEmail(email: string | null): string | null {
  if (email === null) return null
  if (email.length > USER_LIMITS.email || !/^[^@\s]+@[^@\s]+$/.test(email) || CONTROL.test(email)) {
    throw new InvalidRequest(`email: must be an address of at most ${USER_LIMITS.email} characters`)
  }
  return email
}

export function checkName(name: string | null): string | null {
  if (name === null) return null
  if (name.length === 0 || name.length > USER_LIMITS.name || CONTROL.test(name)) {
    throw new InvalidRequest(
      `name: must be 1 to ${USER_LIMITS.name} characters without control characters`,
    )
  }
  return name
}

/** A JSON object of at most 16 KiB, copied so later changes by the caller cannot leak in. */
export function checkMetadata(metadata: unknown): Record<string, unknown> {
  if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) {
    throw new InvalidRequest('metadata: must be a JSON object')
  }
  const text = JSON.stringify(metadata)
  if (Buffer.byteLength(text) > USER_LIMITS.metadataBytes) {
    throw new InvalidRequest(`metadata: must be at most ${USER_LIMITS.metadataBytes} bytes of JSON`)
  }
  return JSON.parse(text) as Record<string, unknown>
}
