import BetterSqlite3 from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { RowWriteCounter } from '../lib/row-counter.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

describe('RowWriteCounter', () => {
  it("counts another connection's rows per table, once per row, and its commits", () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-rows-'))
    dirs.push(dir)
    const file = join(dir, 'db.sqlite')
    const app = new BetterSqlite3(file)
    app.pragma('journal_mode = WAL')
    app.exec(
      'create table sessions (id text primary key, generation integer); create table "odd ""name" (x)',
    )
    app.prepare('insert into sessions values (?, 0)').run('s1')

    const counter = RowWriteCounter.install(file)
    expect(counter.tables.sort()).toEqual(['odd "name', 'sessions'])
    expect(counter.read()).toEqual({})

    app.prepare('insert into sessions values (?, 0)').run('s2')
    app.prepare('insert into sessions values (?, 0)').run('s3')
    app.exec('update sessions set generation = generation + 1') // 3 rows
    app.prepare('update sessions set generation = 9 where id = ?').run('nope') // 0 rows
    app.prepare('delete from sessions where id = ?').run('s3')
    app.exec(`insert into "odd ""name" values (1)`)
    app
      .prepare('insert into sessions values (?, 0) on conflict (id) do update set generation = 5')
      .run('s1')

    expect(counter.read()).toEqual({
      'odd "name.insert': 1,
      'sessions.insert': 2,
      'sessions.update': 4,
      'sessions.delete': 1,
    })
    expect(counter.total()).toBe(8)
    counter.reset()
    expect(counter.total()).toBe(0)

    // Commits: two autocommit statements and one explicit transaction of three.
    counter.startCommitCount()
    app.prepare('update sessions set generation = 7 where id = ?').run('s1')
    app.prepare('update sessions set generation = 7 where id = ?').run('s2')
    app.transaction(() => {
      for (const id of ['t1', 't2', 't3']) app.prepare('insert into sessions values (?, 0)').run(id)
    })()
    app.prepare('update sessions set generation = 9 where id = ?').run('none') // no change, no commit
    expect(counter.endCommitCount()).toBe(3)
    expect(counter.read()).toEqual({ 'sessions.insert': 3, 'sessions.update': 2 })

    counter.uninstall()
    const left = app.prepare("select name from sqlite_master where name like 'bench_%'").all()
    expect(left).toEqual([])
    app.prepare('update sessions set generation = 1').run()
    app.close()
  })
})
