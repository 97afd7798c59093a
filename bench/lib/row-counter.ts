import BetterSqlite3 from 'better-sqlite3'
import { walCommits } from './wal.js'

const COUNTER_TABLE = 'bench_row_writes'
const OPS = ['insert', 'update', 'delete'] as const

const quoteIdent = (s: string) => `"${s.replace(/"/g, '""')}"`
const quoteText = (s: string) => `'${s.replace(/'/g, "''")}'`

/**
 * Counts the rows a running server writes to a SQLite file: one AFTER INSERT / UPDATE / DELETE
 * trigger per table (the triggers live in the file, so they fire for the server's own connection)
 * adds one to a counter per table and operation. Triggers fire once per row, whatever the
 * statement (an upsert that updates counts as an update).
 */
export class RowWriteCounter {
  readonly #db: BetterSqlite3.Database
  readonly #file: string
  readonly tables: string[]
  #commitBase = 0

  private constructor(db: BetterSqlite3.Database, file: string, tables: string[]) {
    this.#db = db
    this.#file = file
    this.tables = tables
  }

  static install(file: string): RowWriteCounter {
    const db = new BetterSqlite3(file)
    db.pragma('busy_timeout = 10000')
    const tables = (
      db
        .prepare(
          `select name from sqlite_master where type = 'table' and name not like 'sqlite_%' and name != ?`,
        )
        .all(COUNTER_TABLE) as { name: string }[]
    ).map((r) => r.name)
    db.transaction(() => {
      db.exec(
        `create table if not exists ${COUNTER_TABLE} (tbl text not null, op text not null, n integer not null, primary key (tbl, op))`,
      )
      const seed = db.prepare(
        `insert or ignore into ${COUNTER_TABLE} (tbl, op, n) values (?, ?, 0)`,
      )
      for (const t of tables) {
        for (const op of OPS) {
          seed.run(t, op)
          db.exec(
            `create trigger if not exists ${quoteIdent(`bench_rw_${t}_${op}`)} after ${op} on ${quoteIdent(t)} ` +
              `begin update ${COUNTER_TABLE} set n = n + 1 where tbl = ${quoteText(t)} and op = '${op}'; end`,
          )
        }
      }
    })()
    return new RowWriteCounter(db, file, tables)
  }

  /** Rows written since install or the last reset, by `table.op`, zeros left out. */
  read(): Record<string, number> {
    const rows = this.#db
      .prepare(`select tbl, op, n from ${COUNTER_TABLE} where n > 0 order by tbl, op`)
      .all() as { tbl: string; op: string; n: number }[]
    return Object.fromEntries(rows.map((r) => [`${r.tbl}.${r.op}`, r.n]))
  }

  total(): number {
    return Object.values(this.read()).reduce((a, b) => a + b, 0)
  }

  reset(): void {
    this.#db.exec(`update ${COUNTER_TABLE} set n = 0`)
  }

  /**
   * Starts counting commits too: empties the write-ahead log (a TRUNCATE checkpoint, retried while
   * the server is mid-write), zeroes the row counters, then holds a read transaction open so the
   * log cannot be restarted (its frames overwritten) until `endCommitCount()`.
   */
  startCommitCount(): void {
    let emptied = false
    for (let attempt = 0; attempt < 100 && !emptied; attempt++) {
      const [r] = this.#db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number }[]
      emptied = r !== undefined && r.busy === 0 && r.log === 0
    }
    if (!emptied) throw new Error('could not empty the write-ahead log: the database stays busy')
    this.reset()
    this.#commitBase = walCommits(`${this.#file}-wal`).commits
    this.#db.exec('begin')
    this.#db.prepare(`select count(*) from ${COUNTER_TABLE}`).get()
  }

  /** Commits (write transactions) by any connection since `startCommitCount()`. */
  endCommitCount(): number {
    this.#db.exec('commit')
    return walCommits(`${this.#file}-wal`).commits - this.#commitBase
  }

  /** Drops the triggers and the counter table, and closes the connection. */
  uninstall(): void {
    this.#db.transaction(() => {
      for (const t of this.tables) {
        for (const op of OPS)
          this.#db.exec(`drop trigger if exists ${quoteIdent(`bench_rw_${t}_${op}`)}`)
      }
      this.#db.exec(`drop table if exists ${COUNTER_TABLE}`)
    })()
    this.#db.close()
  }
}
