/**
 * The demo's defaults, as the dev server's demo data registers them (`DEMO_WEB` and the demo
 * APIs in packages/server/src/dev/demo.ts; a test keeps the two in step).
 */
export const DEMO_DEFAULTS = {
  issuer: 'http://localhost:4000',
  clientId: 'tessera-demo-shell',
  ports: { shell: 5170, orders: 5171, billing: 5172, analytics: 5173 },
  audiences: {
    orders: 'https://orders.demo.tessera.test',
    billing: 'https://billing.demo.tessera.test',
    analytics: 'https://analytics.demo.tessera.test',
  },
} as const
