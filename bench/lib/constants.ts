/** The client, API and scope both targets are set up with, so their tokens carry the same things. */
export const CLIENT_ID = 'bench-app'
export const REDIRECT_URI = 'https://app.bench.test/callback'
export const API_AUDIENCE = 'https://api.bench.test'
/** OpenID + offline access + one scope of the API. */
export const SCOPE = 'openid offline_access read'
export const API_SCOPE = 'read'
export const ACCESS_TOKEN_TTL_SECONDS = 900
