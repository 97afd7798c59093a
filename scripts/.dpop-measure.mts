import { BUDGETS, measure } from './check-size.ts'
for (const b of BUDGETS) { const m = await measure(b.imports); console.log(b.name, m.gzip, m.minified) }
