import { sql, type Kysely, type Migration } from 'kysely'

/**
 * Versioned migrations, shared by SQLite and PostgreSQL. Timestamps are milliseconds (bigint);
 * lists and maps are JSON text. Never edit a released migration: add a new one.
 */
export function migrationsFor(kind: 'sqlite' | 'postgres'): Record<string, Migration> {
  return {
    '0001_initial': initial,
    '0002_binary_collation': kind === 'postgres' ? binaryCollation : NOTHING,
    '0003_admin': admin,
    '0004_webhooks': webhooks(kind),
    '0005_dpop': dpop,
    '0006_retention': retention,
    '0007_mfa': mfa,
    '0008_accounts': accounts,
    '0009_passkeys': passkeys(kind),
    '0010_device_keys': deviceKeys(kind),
    '0011_upstream': upstream(kind),
  }
}

/** A step that is a no-op on one database, so both keep the same list of versions. */
const NOTHING: Migration = { up: () => Promise.resolve() }

/**
 * PostgreSQL sorts and compares text by the database's collation, which is often a linguistic one
 * (en_US.UTF-8: case and punctuation ignored at first). The keys we order and page by (event ids
 * for the keyset cursor, session ids as a tie-break, usernames, client ids) are compared byte by
 * byte as SQLite and JavaScript do, so listings and cursors agree across stores and never depend on
 * the server's locale.
 */
const binaryCollation: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    const columns: [string, string][] = [
      ['clients', 'id'],
      ['apis', 'audience'],
      ['users', 'username_key'],
      ['sessions', 'id'],
      ['security_events', 'id'],
      ['signing_keys', 'kid'],
    ]
    for (const [table, column] of columns) {
      await sql`alter table ${sql.table(table)} alter column ${sql.ref(column)} type text collate "C"`.execute(
        db,
      )
    }
  },
}

const initial: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('clients')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute()

    await db.schema
      .createTable('apis')
      .addColumn('audience', 'text', (c) => c.primaryKey())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute()

    await db.schema
      .createTable('users')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('username', 'text', (c) => c.notNull())
      .addColumn('username_key', 'text', (c) => c.notNull().unique())
      .addColumn('password_hash', 'text', (c) => c.notNull())
      .addColumn('email', 'text')
      .addColumn('name', 'text')
      .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
      .addColumn('metadata', 'text', (c) => c.notNull().defaultTo('{}'))
      .addColumn('password_changed_at', 'bigint', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute()

    await db.schema
      .createTable('browser_sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('auth_time', 'bigint', (c) => c.notNull())
      .addColumn('amr', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_active_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('ended_at', 'bigint')
      .execute()
    await db.schema
      .createIndex('browser_sessions_user')
      .on('browser_sessions')
      .column('user_id')
      .execute()

    await db.schema
      .createTable('authorization_codes')
      .addColumn('code_hash', 'text', (c) => c.primaryKey())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('data', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('consumed_at', 'bigint')
      .addColumn('session_id', 'text')
      .execute()
    await db.schema
      .createIndex('authorization_codes_expires')
      .on('authorization_codes')
      .column('expires_at')
      .execute()

    await db.schema
      .createTable('sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('client_id', 'text', (c) => c.notNull())
      .addColumn('browser_session_id', 'text')
      .addColumn('state', 'text', (c) => c.notNull())
      .addColumn('reason', 'text')
      .addColumn('ended_at', 'bigint')
      .addColumn('scope', 'text', (c) => c.notNull())
      .addColumn('resources', 'text', (c) => c.notNull())
      .addColumn('auth_time', 'bigint', (c) => c.notNull())
      .addColumn('amr', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_active_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('idle_seconds', 'integer', (c) => c.notNull())
      .addColumn('generation', 'integer', (c) => c.notNull())
      .addColumn('rotated_at', 'bigint', (c) => c.notNull())
      .addColumn('grace_uses', 'integer', (c) => c.notNull())
      .addColumn('grace_seconds', 'integer', (c) => c.notNull())
      .addColumn('grace_max_uses', 'integer', (c) => c.notNull())
      .addColumn('salt', 'text', (c) => c.notNull())
      .addColumn('user_agent', 'text')
      .addColumn('ip', 'text')
      .execute()
    await db.schema
      .createIndex('sessions_user')
      .on('sessions')
      .columns(['user_id', 'state'])
      .execute()
    await db.schema.createIndex('sessions_client').on('sessions').column('client_id').execute()
    await db.schema
      .createIndex('sessions_browser_session')
      .on('sessions')
      .column('browser_session_id')
      .execute()

    await db.schema
      .createTable('security_events')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('type', 'text', (c) => c.notNull())
      .addColumn('at', 'bigint', (c) => c.notNull())
      .addColumn('user_id', 'text')
      .addColumn('client_id', 'text')
      .addColumn('session_id', 'text')
      .addColumn('ip', 'text')
      .addColumn('user_agent', 'text')
      .addColumn('data', 'text', (c) => c.notNull())
      .execute()
    await db.schema.createIndex('security_events_at').on('security_events').column('at').execute()
    await db.schema
      .createIndex('security_events_user')
      .on('security_events')
      .columns(['user_id', 'at'])
      .execute()

    await db.schema
      .createTable('signing_keys')
      .addColumn('kid', 'text', (c) => c.primaryKey())
      .addColumn('alg', 'text', (c) => c.notNull())
      .addColumn('public_jwk', 'text', (c) => c.notNull())
      .addColumn('private_jwk_enc', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('activates_at', 'bigint', (c) => c.notNull())
      .addColumn('retired_at', 'bigint')
      .addColumn('expires_at', 'bigint')
      .execute()

    await db.schema
      .createTable('throttle')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('window_start', 'bigint', (c) => c.notNull())
      .addColumn('count', 'integer', (c) => c.notNull())
      .execute()
  },
}

/** Admin keys and console sessions, and the indexes the Admin API lists by. */
const admin: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema
      .createTable('admin_keys')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('key_hash', 'text', (c) => c.notNull().unique())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('revoked_at', 'bigint')
      .execute()

    await db.schema
      .createTable('admin_sessions')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('key_id', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('last_active_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('ended_at', 'bigint')
      .execute()
    await db.schema
      .createIndex('admin_sessions_key')
      .on('admin_sessions')
      .column('key_id')
      .execute()

    // The Admin API lists every session newest first, and codes are voided per user.
    await db.schema
      .createIndex('sessions_created')
      .on('sessions')
      .columns(['created_at', 'id'])
      .execute()
    await db.schema
      .createIndex('authorization_codes_user')
      .on('authorization_codes')
      .column('user_id')
      .execute()
  },
}

/**
 * The webhook outbox (messages written with the session change), the per-endpoint deliveries and
 * the record of attempts. On PostgreSQL the ids compare byte by byte, as after 0002.
 */
function webhooks(kind: 'sqlite' | 'postgres'): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      // The outbox: written in the transaction that ends a session, drained by the dispatcher.
      await db.schema
        .createTable('webhook_messages')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createIndex('webhook_messages_created')
        .on('webhook_messages')
        .columns(['created_at', 'id'])
        .execute()

      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('endpoint_id', 'text', (c) => c.notNull())
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('payload', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('attempts', 'integer', (c) => c.notNull())
        .addColumn('next_attempt_at', 'bigint', (c) => c.notNull())
        .addColumn('lease_owner', 'text')
        .addColumn('lease_until', 'bigint')
        .addColumn('last_attempt_at', 'bigint')
        .addColumn('last_status', 'integer')
        .addColumn('last_error', 'text')
        .execute()
      await db.schema
        .createIndex('webhook_deliveries_due')
        .on('webhook_deliveries')
        .columns(['state', 'next_attempt_at'])
        .execute()
      await db.schema
        .createIndex('webhook_deliveries_created')
        .on('webhook_deliveries')
        .column('created_at')
        .execute()

      await db.schema
        .createTable('webhook_attempts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('delivery_id', 'text', (c) => c.notNull())
        .addColumn('message_id', 'text', (c) => c.notNull())
        .addColumn('endpoint_id', 'text', (c) => c.notNull())
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('status', 'integer')
        .addColumn('error', 'text')
        .addColumn('duration_ms', 'integer', (c) => c.notNull())
        .execute()
      await db.schema
        .createIndex('webhook_attempts_delivery')
        .on('webhook_attempts')
        .columns(['delivery_id', 'at'])
        .execute()
      await db.schema
        .createIndex('webhook_attempts_at')
        .on('webhook_attempts')
        .column('at')
        .execute()
      if (kind === 'postgres') {
        for (const [table, column] of [
          ['webhook_messages', 'id'],
          ['webhook_deliveries', 'id'],
          ['webhook_attempts', 'id'],
        ] as const) {
          await sql`alter table ${sql.table(table)} alter column ${sql.ref(column)} type text collate "C"`.execute(
            db,
          )
        }
      }
    },
  }
}

/** RFC 9449: the DPoP key a session's refresh tokens are bound to, and the proofs (jti) already
 * accepted, so a replay is refused by every instance sharing the store. */
const dpop: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('sessions').addColumn('dpop_jkt', 'text').execute()
    await db.schema
      .createTable('dpop_proofs')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute()
    await db.schema
      .createIndex('dpop_proofs_expires')
      .on('dpop_proofs')
      .column('expires_at')
      .execute()
  },
}

/** Indexes the retention pass deletes by: ended sessions by end time, and browser sessions by
 * each of the times that can make them over. None is on a column the refresh path writes. */
const retention: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.createIndex('sessions_ended').on('sessions').column('ended_at').execute()
    for (const column of ['ended_at', 'expires_at', 'last_active_at']) {
      await db.schema
        .createIndex(`browser_sessions_${column}`)
        .on('browser_sessions')
        .column(column)
        .execute()
    }
  },
}

/** TOTP second factor (RFC 6238) and pending session tasks: the task of a `pending` session, one
 * TOTP authenticator per user (its secret encrypted under the server secret, the last accepted
 * time step against reuse) and the user's single-use recovery codes (keyed HMACs, never the
 * codes). */
const mfa: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('sessions').addColumn('task', 'text').execute()
    await db.schema
      .createTable('totp_credentials')
      .addColumn('user_id', 'text', (c) => c.primaryKey())
      .addColumn('secret_enc', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('confirmed_at', 'bigint')
      .addColumn('last_step', 'bigint')
      .execute()
    await db.schema
      .createTable('recovery_codes')
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('code_hash', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .addPrimaryKeyConstraint('recovery_codes_pk', ['user_id', 'code_hash'])
      .execute()
  },
}

/** Self-service accounts: when a user's email was verified, the single-use email links (stored
 * as the SHA-256 of their token, never the token), and run-time settings the Admin API changes
 * (sign-up on or off). The expression index serves the case-insensitive lookup by email of a
 * password reset. */
const accounts: Migration = {
  async up(db: Kysely<unknown>): Promise<void> {
    await db.schema.alterTable('users').addColumn('email_verified_at', 'bigint').execute()
    await sql`create index users_email_lower on users (lower(email))`.execute(db)
    await db.schema
      .createTable('email_tokens')
      .addColumn('token_hash', 'text', (c) => c.primaryKey())
      .addColumn('purpose', 'text', (c) => c.notNull())
      .addColumn('user_id', 'text', (c) => c.notNull())
      .addColumn('email', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .addColumn('used_at', 'bigint')
      .execute()
    await db.schema
      .createIndex('email_tokens_user')
      .on('email_tokens')
      .columns(['user_id', 'purpose'])
      .execute()
    await db.schema
      .createIndex('email_tokens_expires')
      .on('email_tokens')
      .column('expires_at')
      .execute()
    await db.schema
      .createTable('settings')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .addColumn('updated_at', 'bigint', (c) => c.notNull())
      .execute()
  },
}

/** WebAuthn: the passkeys of users (credential id, COSE public key, signature counter, transports,
 * backup flags, name, times), and the challenges already used, so a ceremony's challenge is
 * accepted once by every instance sharing the store. */
function passkeys(kind: 'sqlite' | 'postgres'): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('passkeys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('counter', 'bigint', (c) => c.notNull())
        .addColumn('transports', 'text', (c) => c.notNull())
        .addColumn('backup_eligible', 'integer', (c) => c.notNull())
        .addColumn('backup_state', 'integer', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .execute()
      await db.schema
        .createIndex('passkeys_user')
        .on('passkeys')
        .columns(['user_id', 'created_at'])
        .execute()
      await db.schema
        .createTable('webauthn_challenges')
        .addColumn('key', 'text', (c) => c.primaryKey())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .execute()
      await db.schema
        .createIndex('webauthn_challenges_expires')
        .on('webauthn_challenges')
        .column('expires_at')
        .execute()
      if (kind === 'postgres') {
        // Credential ids are compared byte by byte, whatever the database's locale.
        await sql`alter table passkeys alter column id type text collate "C"`.execute(db)
      }
    },
  }
}

/** Biometric step-up: the device keys of native apps (an ES256 public JWK per device, its
 * thumbprint unique per user). Used challenges share `webauthn_challenges`. */
function deviceKeys(kind: 'sqlite' | 'postgres'): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('device_keys')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('public_jwk', 'text', (c) => c.notNull())
        .addColumn('jkt', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint')
        .execute()
      await db.schema
        .createIndex('device_keys_user_jkt')
        .on('device_keys')
        .columns(['user_id', 'jkt'])
        .unique()
        .execute()
      if (kind === 'postgres') {
        await sql`alter table device_keys alter column id type text collate "C"`.execute(db)
      }
    },
  }
}

/** Upstream sign-in: which user an upstream provider's subject signs in as. */
function upstream(kind: 'sqlite' | 'postgres'): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('upstream_links')
        .addColumn('provider_id', 'text', (c) => c.notNull())
        .addColumn('subject', 'text', (c) => c.notNull())
        .addColumn('user_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('upstream_links_pk', ['provider_id', 'subject'])
        .execute()
      await db.schema
        .createIndex('upstream_links_user')
        .on('upstream_links')
        .column('user_id')
        .execute()
      if (kind === 'postgres') {
        // Upstream subjects are case-sensitive strings, compared byte by byte.
        await sql`alter table upstream_links alter column subject type text collate "C"`.execute(db)
      }
    },
  }
}
