import { closeSync, fstatSync, openSync, readSync } from 'node:fs'

/**
 * Counts the commits in a SQLite write-ahead log: the frames whose header carries the database
 * size after the commit (non-zero only on a transaction's last frame), among the frames of the
 * log's current generation (salts equal to the header's). With `synchronous = FULL`, each commit
 * is one fsync of the log.
 *
 * @see https://www.sqlite.org/fileformat.html#the_write_ahead_log
 */
export function walCommits(walFile: string): { frames: number; commits: number } {
  let fd: number
  try {
    fd = openSync(walFile, 'r')
  } catch {
    return { frames: 0, commits: 0 }
  }
  try {
    const size = fstatSync(fd).size
    if (size < 32) return { frames: 0, commits: 0 }
    const header = Buffer.alloc(32)
    readSync(fd, header, 0, 32, 0)
    const magic = header.readUInt32BE(0)
    if (magic !== 0x377f0682 && magic !== 0x377f0683)
      throw new Error(`${walFile} is not a WAL file`)
    const pageSize = header.readUInt32BE(8)
    const salt1 = header.readUInt32BE(16)
    const salt2 = header.readUInt32BE(20)
    const frame = Buffer.alloc(24)
    let frames = 0
    let commits = 0
    for (let off = 32; off + 24 + pageSize <= size; off += 24 + pageSize) {
      readSync(fd, frame, 0, 24, off)
      if (frame.readUInt32BE(8) !== salt1 || frame.readUInt32BE(12) !== salt2) break
      frames += 1
      if (frame.readUInt32BE(4) !== 0) commits += 1
    }
    return { frames, commits }
  } finally {
    closeSync(fd)
  }
}
