/**
 * The signed-in home: who the user is, the session's state (`useSession`), the two demo APIs
 * called with a token for each one's audience (`useApi`), a biometric step-up before a sensitive
 * action and a manual lock (native), and sign-out.
 */
import { useApi, useAuth, useSession, type Api } from '@tessera/react-native'
import { useState } from 'react'
import { Link } from 'expo-router'
import { ScrollView, Text } from 'react-native'
import { APIS } from '../../src/config'
import { app } from '../../src/tessera'
import { Button, Section, styles } from '../../src/ui'

const time = (ms: number | null) => (ms === null ? '—' : new Date(ms).toLocaleTimeString())

function ApiCall({ name, api, path }: { name: 'orders' | 'billing'; api: Api; path: string }) {
  const [answer, setAnswer] = useState<string | null>(null)
  const call = async () => {
    setAnswer('…')
    try {
      // The client adds `Authorization: Bearer` with a token for this API's audience only.
      const res = await api.fetch(path)
      setAnswer(res.ok ? await res.text() : `HTTP ${res.status}`)
    } catch (err) {
      setAnswer(`Failed: ${err instanceof Error ? err.message : String(err)}`)
    }
  }
  return (
    <Section title={`${name === 'orders' ? 'Orders' : 'Billing'} API`}>
      <Text style={styles.muted}>audience {api.audience}</Text>
      <Button title={`Call the ${name} API`} testID={`call-${name}`} onPress={() => void call()} />
      {answer !== null && (
        <Text style={styles.mono} testID={`${name}-answer`}>
          {answer}
        </Text>
      )}
    </Section>
  )
}

export default function Home() {
  const { user, sessionId, signOut } = useAuth()
  const session = useSession()
  const orders = useApi(APIS.orders.audience)
  const billing = useApi(APIS.billing.audience)
  const [notice, setNotice] = useState<string | null>(null)

  const sensitive = async () => {
    if (!app.gate) return setNotice('No biometrics on the web: nothing to confirm.')
    try {
      await app.gate.confirm() // step-up: prompts even while unlocked
      setNotice('Confirmed: the sensitive action may run.')
    } catch (err) {
      setNotice(`Not confirmed: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  return (
    <ScrollView contentContainerStyle={styles.screen}>
      <Section title="Signed in">
        <Text testID="user">
          {typeof user?.name === 'string' ? user.name : user?.sub}
          {typeof user?.email === 'string' ? ` <${user.email}>` : ''}
        </Text>
        <Text style={styles.muted} testID="user-id">
          sub {user?.sub}
        </Text>
        <Text style={styles.muted} testID="session-id">
          session {sessionId}
        </Text>
      </Section>
      <Section title="Session">
        <Text testID="session-status">{session.status}</Text>
        <Text style={styles.muted}>
          ends {time(session.expireAt)} · idle limit {time(session.abandonAt)} · last active{' '}
          {time(session.lastActiveAt)}
        </Text>
        {session.locked && <Text>locked by the idle timeout</Text>}
        <Link href="/session" testID="session-link">
          Session details
        </Link>
      </Section>
      <ApiCall name="orders" api={orders} path={APIS.orders.baseUrl + '/summary'} />
      <ApiCall name="billing" api={billing} path={APIS.billing.baseUrl + '/summary'} />
      <Section title="Biometrics">
        {app.gate ? (
          <>
            <Button
              title="Sensitive action (confirm first)"
              testID="confirm"
              onPress={() => void sensitive()}
            />
            <Button title="Lock now" testID="lock" onPress={() => app.gate?.lock()} />
          </>
        ) : (
          <Text style={styles.muted} testID="no-biometrics">
            Not available on the web: the session stays in this browser&apos;s storage.
          </Text>
        )}
        {notice !== null && <Text>{notice}</Text>}
      </Section>
      <Button title="Sign out" testID="sign-out" onPress={() => void signOut()} />
    </ScrollView>
  )
}
