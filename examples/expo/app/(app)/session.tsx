/**
 * The session in detail (`useSession`): a second protected route, so a signed-out visit shows
 * the guard's `returnTo` at work (sign-in comes back here, not to the home screen).
 */
import { useSession } from '@tessera/react-native'
import { Link } from 'expo-router'
import { ScrollView, Text } from 'react-native'
import { Section, styles } from '../../src/ui'

const time = (ms: number | null) => (ms === null ? '—' : new Date(ms).toISOString())

export default function Session() {
  const s = useSession()
  const rows: [string, string][] = [
    ['status', s.status],
    ['reason', s.reason ?? '—'],
    ['ends at (absolute)', time(s.expireAt)],
    ['ends when idle at', time(s.abandonAt)],
    ['last active', time(s.lastActiveAt)],
    ['pending task', s.currentTask ?? '—'],
    ['locked', s.locked ? 'yes' : 'no'],
  ]
  return (
    <ScrollView contentContainerStyle={styles.screen}>
      <Section title="Session">
        {rows.map(([k, v]) => (
          <Text key={k} testID={`detail-${k.split(' ')[0]}`}>
            <Text style={styles.muted}>{k}: </Text>
            {v}
          </Text>
        ))}
      </Section>
      <Link href="/" testID="home-link">
        Back home
      </Link>
    </ScrollView>
  )
}
