import { describe, expect, it } from 'vitest'
import type { Store } from '../../src/store/store.js'
import type { EmailTokenRecord } from '../../src/store/types.js'
import { eventRecord, T0, uid, userRecord } from './records.js'

/**
 * The self-service accounts part of the Store contract (email links, settings, users by email),
 * run inside `runStoreConformance` so every implementation gets it. `store()` returns the fresh
 * store of the running test.
 */
export function accountStoreConformance(store: () => Store, racers: number): void {
  const token = (o: Partial<EmailTokenRecord> = {}): EmailTokenRecord => ({
    tokenHash: uid('th_'),
    purpose: 'reset_password',
    userId: uid('usr_'),
    email: 'ada@example.test',
    createdAt: T0,
    expiresAt: T0 + 1800_000,
    usedAt: null,
    ...o,
  })

  describe('accounts: users, email links, settings', () => {
    it('keeps emailVerifiedAt through create, read and update', async () => {
      const u = userRecord({ emailVerifiedAt: null })
      await store().createUser(u)
      expect((await store().getUser(u.id))?.emailVerifiedAt).toBeNull()
      await store().writeUser({ update: { ...u, emailVerifiedAt: T0 + 9 } })
      expect((await store().getUser(u.id))?.emailVerifiedAt).toBe(T0 + 9)
    })

    it('finds users by email in any case, oldest first, at most 10', async () => {
      const ids: string[] = []
      for (let i = 0; i < 12; i++) {
        const u = userRecord({
          email: i % 2 ? 'Ada@Example.test' : 'ada@example.TEST',
          createdAt: T0 + i,
        })
        ids.push(u.id)
        await store().createUser(u)
      }
      await store().createUser(userRecord({ email: 'other@example.test' }))
      const found = await store().getUsersByEmail('ADA@example.test')
      expect(found.map((u) => u.id)).toEqual(ids.slice(0, 10))
      expect(await store().getUsersByEmail('nobody@example.test')).toEqual([])
    })

    it('an email link is used once, only for its purpose, only before it expires', async () => {
      const t = token()
      await store().createEmailToken(t)
      expect(await store().getEmailToken(t.tokenHash)).toEqual(t)
      expect(await store().useEmailToken(t.tokenHash, 'verify_email', T0 + 1)).toBeUndefined()
      expect(
        await store().useEmailToken(t.tokenHash, 'reset_password', t.expiresAt),
      ).toBeUndefined()
      const used = await store().useEmailToken(t.tokenHash, 'reset_password', T0 + 2)
      expect(used).toEqual({ ...t, usedAt: T0 + 2 })
      expect(await store().useEmailToken(t.tokenHash, 'reset_password', T0 + 3)).toBeUndefined()
      expect((await store().getEmailToken(t.tokenHash))?.usedAt).toBe(T0 + 2)
      expect(await store().useEmailToken('unknown', 'reset_password', T0 + 3)).toBeUndefined()
    })

    it(`${racers} concurrent uses of one link: exactly one gets it`, async () => {
      const t = token()
      await store().createEmailToken(t)
      const results = await Promise.all(
        Array.from({ length: racers }, () =>
          store().useEmailToken(t.tokenHash, 'reset_password', T0 + 1),
        ),
      )
      expect(results.filter((r) => r !== undefined)).toHaveLength(1)
    })

    it('voidEmailTokens spends the unused links of one user and purpose; prune deletes a day after expiry', async () => {
      const userId = uid('usr_')
      const a = token({ userId })
      const b = token({ userId })
      const other = token({ userId, purpose: 'verify_email' })
      const spent = token({ userId, usedAt: T0 + 1 })
      for (const t of [a, b, other, spent]) await store().createEmailToken(t)
      expect(await store().voidEmailTokens(userId, 'reset_password', T0 + 5)).toBe(2)
      expect((await store().getEmailToken(a.tokenHash))?.usedAt).toBe(T0 + 5)
      expect((await store().getEmailToken(other.tokenHash))?.usedAt).toBeNull()
      expect((await store().getEmailToken(spent.tokenHash))?.usedAt).toBe(T0 + 1)
      const dayAfter = a.expiresAt + 86_400_000
      expect(await store().pruneEmailTokens(dayAfter - 1)).toBe(0)
      expect(await store().pruneEmailTokens(dayAfter)).toBe(4)
      expect(await store().getEmailToken(a.tokenHash)).toBeUndefined()
    })

    it('settings: unset, set, replaced, removed', async () => {
      expect(await store().getSetting('accounts.signUp')).toBeUndefined()
      await store().putSetting('accounts.signUp', 'true', T0)
      expect(await store().getSetting('accounts.signUp')).toBe('true')
      await store().putSetting('accounts.signUp', 'false', T0 + 1)
      expect(await store().getSetting('accounts.signUp')).toBe('false')
      await store().putSetting('accounts.signUp', null, T0 + 2)
      expect(await store().getSetting('accounts.signUp')).toBeUndefined()
    })

    it('upstream links: a new user and its link in one write; a subject links once; deleting the user unlinks', async () => {
      const u = userRecord()
      const link = { providerId: 'acme', subject: 'Sub-1', userId: u.id, createdAt: T0 }
      const ev = () => eventRecord({ type: 'upstream_linked', userId: u.id })
      expect(await store().linkUpstream(link, ev(), u)).toBe(true)
      expect(await store().getUser(u.id)).toMatchObject({ id: u.id })
      expect(await store().getUpstreamLink('acme', 'Sub-1')).toEqual(link)
      // Subjects are case-sensitive.
      expect(await store().getUpstreamLink('acme', 'sub-1')).toBeUndefined()
      const other = userRecord()
      expect(await store().linkUpstream({ ...link, userId: other.id }, ev(), other)).toBe(false)
      // Nothing of the refused write stays: neither the user nor the event.
      expect(await store().getUser(other.id)).toBeUndefined()
      expect(await store().getUpstreamLink('acme', 'Sub-1')).toEqual(link)
      const second = { ...link, providerId: 'other', createdAt: T0 + 1 }
      expect(await store().linkUpstream(second, ev())).toBe(true)
      expect(await store().listUpstreamLinks(u.id)).toEqual([link, second])
      await store().writeUser({ delete: u.id })
      expect(await store().listUpstreamLinks(u.id)).toEqual([])
    })
  })
}
