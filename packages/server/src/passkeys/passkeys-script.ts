/**
 * The one script of the hosted pages, served as a file at `PATHS.passkeysScript` (the pages' CSP
 * allows exactly that URL, no inline script). It runs the WebAuthn ceremonies: it asks the server
 * for options (a same-origin POST with the page's form token), calls `navigator.credentials`, and
 * submits the answer as JSON in a hidden field of an ordinary form, so the server's answer is a
 * normal navigation (a 303 back to the client after a sign-in). Without JavaScript or WebAuthn
 * the passkey buttons stay hidden and the password form works as before.
 */
export const PASSKEYS_SCRIPT = `'use strict'
;(() => {
  if (!window.PublicKeyCredential || !navigator.credentials) return
  const enc = (buf) => {
    let s = ''
    for (const b of new Uint8Array(buf)) s += String.fromCharCode(b)
    return btoa(s).replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '')
  }
  const dec = (s) => {
    const b = s.replace(/-/g, '+').replace(/_/g, '/')
    return Uint8Array.from(atob(b + '==='.slice((b.length + 3) % 4)), (c) => c.charCodeAt(0))
  }
  const descriptors = (list) =>
    (list || []).map((c) => ({ type: 'public-key', id: dec(c.id), transports: c.transports }))
  const show = (form, text) => {
    const e = form.querySelector('.passkey-error')
    if (e) {
      e.textContent = text
      e.hidden = false
    }
  }
  const askOptions = async (form, extra) => {
    const body = new URLSearchParams()
    for (const name of ['tx', 'csrf']) {
      const el = form.elements.namedItem(name)
      if (el) body.set(name, el.value)
    }
    for (const [k, v] of Object.entries(extra)) body.set(k, v)
    const res = await fetch(form.dataset.options, { method: 'POST', body, credentials: 'same-origin' })
    const json = await res.json()
    if (!res.ok) throw new Error(json.error_description || 'Passkeys are not available right now.')
    return json
  }
  const answer = (c) => {
    const r = c.response
    const response = { clientDataJSON: enc(r.clientDataJSON) }
    if (r.attestationObject) {
      response.attestationObject = enc(r.attestationObject)
      response.transports = typeof r.getTransports === 'function' ? r.getTransports() : []
    } else {
      response.authenticatorData = enc(r.authenticatorData)
      response.signature = enc(r.signature)
      if (r.userHandle) response.userHandle = enc(r.userHandle)
    }
    return JSON.stringify({
      id: c.id,
      rawId: enc(c.rawId),
      type: c.type,
      response,
      authenticatorAttachment: c.authenticatorAttachment || undefined,
      clientExtensionResults: c.getClientExtensionResults(),
    })
  }
  const submit = (form, sealed, credential) => {
    form.elements.namedItem('challenge').value = sealed
    form.elements.namedItem('credential').value = credential
    form.submit()
  }
  const run = (form, ceremony) => {
    const button = form.querySelector('.passkey-button')
    if (!button) return
    form.hidden = false
    button.addEventListener('click', async (event) => {
      event.preventDefault()
      if (!form.reportValidity()) return
      button.disabled = true
      try {
        await ceremony(form)
      } catch (err) {
        show(form, err && err.name === 'NotAllowedError'
          ? 'The passkey was not used (cancelled or timed out).'
          : (err && err.message) || 'The passkey could not be used.')
        button.disabled = false
      }
    })
  }
  const signIn = document.getElementById('passkey-sign-in')
  if (signIn) {
    run(signIn, async (form) => {
      const user = document.getElementById('username')
      const username = user ? user.value.trim() : ''
      const o = await askOptions(form, username ? { username } : {})
      const c = await navigator.credentials.get({
        publicKey: {
          ...o.options,
          challenge: dec(o.options.challenge),
          allowCredentials: descriptors(o.options.allowCredentials),
        },
      })
      submit(form, o.challenge, answer(c))
    })
  }
  const register = document.getElementById('passkey-register')
  if (register) {
    run(register, async (form) => {
      const o = await askOptions(form, {})
      const c = await navigator.credentials.create({
        publicKey: {
          ...o.options,
          challenge: dec(o.options.challenge),
          user: { ...o.options.user, id: dec(o.options.user.id) },
          excludeCredentials: descriptors(o.options.excludeCredentials),
        },
      })
      submit(form, o.challenge, answer(c))
    })
  }
})()
`
