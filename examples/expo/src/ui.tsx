import type { ReactNode } from 'react'
import { ActivityIndicator, Pressable, StyleSheet, Text, View } from 'react-native'

/** The loading state while the session is read from storage (the splash screen is held too). */
export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <View style={styles.center} testID="loading">
      <ActivityIndicator size="large" />
      <Text style={styles.muted}>{label}</Text>
    </View>
  )
}

export function Button(props: {
  title: string
  onPress: () => void
  testID: string
  disabled?: boolean
}) {
  return (
    <Pressable
      accessibilityRole="button"
      testID={props.testID}
      disabled={props.disabled}
      onPress={props.onPress}
      style={({ pressed }) => [styles.button, (pressed || props.disabled) && styles.buttonDimmed]}
    >
      <Text style={styles.buttonText}>{props.title}</Text>
    </Pressable>
  )
}

export function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <View style={styles.section}>
      <Text style={styles.heading}>{title}</Text>
      {children}
    </View>
  )
}

export const styles = StyleSheet.create({
  center: { flex: 1, alignItems: 'center', justifyContent: 'center', gap: 12, padding: 24 },
  screen: { padding: 20, gap: 16 },
  section: { gap: 8 },
  heading: { fontSize: 18, fontWeight: '600' },
  muted: { color: '#666' },
  error: { color: '#b00020' },
  mono: { fontFamily: 'monospace', fontSize: 13 },
  button: {
    backgroundColor: '#1f4fd1',
    borderRadius: 8,
    paddingVertical: 12,
    paddingHorizontal: 16,
  },
  buttonDimmed: { opacity: 0.6 },
  buttonText: { color: '#fff', fontWeight: '600', textAlign: 'center' },
})
