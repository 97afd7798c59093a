import { createRequire } from 'node:module'

/** The database drivers, each needed only by its own store. */
export type DriverPackage = 'better-sqlite3' | 'pg'

const NEEDED_BY: Record<DriverPackage, { store: string; otherwise: string }> = {
  'better-sqlite3': {
    store: 'the SQLite store',
    otherwise: ', or use PostgreSQL (DATABASE_URL, or database.driver "postgres")',
  },
  pg: { store: 'the PostgreSQL store', otherwise: '' },
}

/** A database driver package that the configured store needs is not installed. */
export class MissingPackageError extends Error {
  override readonly name = 'MissingPackageError'
  readonly code = 'ERR_TESSERA_MISSING_PACKAGE'
  readonly package: DriverPackage
  constructor(pkg: DriverPackage) {
    const n = NEEDED_BY[pkg]
    super(
      `${n.store} needs the ${pkg} package, which is not installed: ` +
        `run npm install ${pkg}${n.otherwise}`,
    )
    this.package = pkg
  }
}

/** How a package is loaded: `require` by default; tests pass one that behaves as if it were
 * missing. */
export type PackageLoader = (name: string) => unknown

const requireHere: PackageLoader = createRequire(import.meta.url)

/**
 * Loads a database driver when its store is built, not when `@tessera/server` is imported: both
 * are optional dependencies, so a PostgreSQL-only deployment can install without better-sqlite3
 * (`npm install --omit=optional` with `pg` in its own dependencies) and never compiles its native
 * addon. A missing package is a MissingPackageError naming it and how to install it; any other
 * failure (a native addon built for another Node, say) is thrown as it is.
 */
export function loadDriver<T>(pkg: DriverPackage, load: PackageLoader = requireHere): T {
  try {
    return load(pkg) as T
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const missing =
      (e.code === 'MODULE_NOT_FOUND' || e.code === 'ERR_MODULE_NOT_FOUND') &&
      // The package itself, not one of its own dependencies.
      e.message.includes(`'${pkg}'`)
    if (missing) throw new MissingPackageError(pkg)
    throw err
  }
}
