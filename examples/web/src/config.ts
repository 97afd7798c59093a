/** What the pages of the demo are told when they load (`window.__DEMO`). */
export interface DemoConfig {
  issuer: string
  clientId: string
  shell: string
  frames: FrameInfo[]
}

export interface FrameInfo {
  name: 'orders' | 'billing' | 'analytics'
  title: string
  origin: string
  /** The audience of this frame's API, as registered at Tessera. */
  audience: string
}

/** The page's configuration, written into the HTML by the demo server. */
export function pageConfig(): DemoConfig {
  return (window as unknown as { __DEMO: DemoConfig }).__DEMO
}

/** Where a frame's API lives: `/api` on the frame's own origin. */
export const apiBase = (f: Pick<FrameInfo, 'origin'>) => f.origin + '/api'
