/** Usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top] */
import { formatProfileSummary, summarizeProfile } from './lib/profile.js'

const [file, top] = process.argv.slice(2)
if (!file) {
  console.error('usage: node --import tsx bench/profile-summary.ts <file.cpuprofile> [top]')
  process.exit(2)
}
console.log(formatProfileSummary(summarizeProfile(file, top ? Number(top) : 15)))
