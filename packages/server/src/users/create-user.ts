import type { Clock } from '../lib/clock.js'
import { randomId, type Random } from '../lib/random.js'
import type { Store } from '../store/store.js'
import type { UserRecord } from '../store/types.js'
import { hashPassword, type PasswordCost } from './password.js'

export interface NewUser {
  username: string
  password: string
  email?: string | null
  name?: string | null
  metadata?: Record<string, unknown>
}

export class UserInputError extends Error {
  override readonly name = 'UserInputError'
}

export const USERNAME = /^[A-Za-z0-9._@+-]{1,128}$/

/** Throws UserInputError when a password is too short or too long. */
export function checkPassword(password: string): void {
  if (password.length < 8 || password.length > 1024) {
    throw new UserInputError('password must be 8 to 1024 characters')
  }
}

/** Checks the username and password and builds the record (random `usr_` subject, hashed
 * password); writes nothing. */
export async function newUserRecord(
  deps: { clock: Clock; random: Random; passwordCost: PasswordCost },
  input: NewUser,
): Promise<UserRecord> {
  if (!USERNAME.test(input.username)) {
    throw new UserInputError(
      'username must be 1 to 128 characters of letters, digits and . _ @ + -',
    )
  }
  checkPassword(input.password)
  const now = deps.clock.now()
  return {
    id: `usr_${randomId(deps.random)}`,
    username: input.username,
    passwordHash: await hashPassword(input.password, deps.passwordCost),
    email: input.email ?? null,
    name: input.name ?? null,
    disabled: false,
    metadata: input.metadata ?? {},
    passwordChangedAt: now,
    emailVerifiedAt: null,
    createdAt: now,
    updatedAt: now,
  }
}

/** Creates a user with a random `usr_` subject. */
export async function createUser(
  deps: { store: Store; clock: Clock; random: Random; passwordCost: PasswordCost },
  input: NewUser,
): Promise<UserRecord> {
  const user = await newUserRecord(deps, input)
  if (await deps.store.getUserByUsername(input.username)) {
    throw new UserInputError('username is taken')
  }
  await deps.store.createUser(user)
  return user
}
