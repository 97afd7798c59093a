/**
 * The CAPTCHA hook: Tessera ships no CAPTCHA; an operator plugs one in through
 * `createTesseraServer({ hooks: { captcha } })`. It is asked on every sign-up and password reset
 * request, before anything else is done with it.
 *
 * The hosted pages run no script and load nothing from elsewhere (their CSP), so `fields` is
 * static HTML inside the form: a question, a hidden proof-of-work or honeypot field, a token your
 * reverse proxy or edge adds. A widget that needs a third-party script does not fit that page.
 *
 * @example
 * const captcha: CaptchaHook = {
 *   fields: () => '<label for="q">What is 3 + 4?</label><input id="q" name="q" required>',
 *   verify: async ({ form }) => form.q?.trim() === '7',
 * }
 */
export type CaptchaAction = 'sign_up' | 'password_reset'

export interface CaptchaHook {
  /** Trusted HTML placed in the form before its button (written by the operator, not escaped). */
  fields?: (action: CaptchaAction) => string
  /** True lets the request through; false answers it with "Please complete the check" and does
   * nothing else. A throw is a server error. */
  verify: (input: {
    action: CaptchaAction
    /** The posted form fields (first value of each). */
    form: Record<string, string>
    ip: string
    userAgent: string | null
  }) => Promise<boolean>
}
