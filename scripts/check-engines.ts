/**
 * `npm run check:engines`: the Node version floor that the root package.json declares
 * (`engines.node`, which the packages repeat) must be true for the whole installed tree. Every
 * package in package-lock.json (what `npm ci` installs, dev dependencies and workspaces included)
 * whose `engines.node` excludes the floor's lowest version, or the Node running this check, is
 * listed and the check exits 1: `npm ci` on that Node would print an EBADENGINE warning, and the
 * package may not work there.
 *
 * A dependency that wants a newer Node is fixed with an `overrides` entry in the root
 * package.json pinning a version (of it, or of the package that pulls it in) that supports the
 * floor, verified by the tests that use it.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import semver from 'semver'
import { ROOT } from './lib/packages.js'

interface LockEntry {
  name?: string
  version?: string
  engines?: Record<string, string> | string[]
  link?: boolean
}

const root = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  engines?: { node?: string }
}
const floor = root.engines?.node
if (!floor) throw new Error('the root package.json declares no engines.node')
const lowest = semver.minVersion(floor)
if (!lowest) throw new Error(`engines.node ${floor} names no version`)
const versions = [...new Set([lowest.version, semver.clean(process.version) ?? process.version])]

const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, LockEntry>
}
const problems: string[] = []
let checked = 0
for (const [path, entry] of Object.entries(lock.packages)) {
  if (path === '' || entry.link) continue
  checked++
  // An array of strings is the long-deprecated form that npm ignores.
  const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node
  if (range === undefined) continue
  const name = entry.name ?? path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)
  for (const v of versions) {
    if (!semver.satisfies(v, range, { includePrerelease: true })) {
      problems.push(`${name}@${entry.version ?? '?'} (${path}) wants node ${range}; not ${v}`)
    }
  }
}

if (problems.length > 0) {
  console.log(`engines: the declared floor node ${floor} is not true for the installed tree:`)
  for (const p of problems) console.log('  - ' + p)
  process.exit(1)
}
console.log(`engines: ${checked} packages accept node ${versions.join(' and ')} (floor ${floor})`)
