// Expo replaces `process.env.EXPO_PUBLIC_*` with their values at bundle time.
declare const process: { env: Record<string, string | undefined> }
