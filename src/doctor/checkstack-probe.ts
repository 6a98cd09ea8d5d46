// Checkstack facts for the doctor: reachability and era (`/.checkstack/ready` answered as JSON, or the UI's page /
// 404 of a release before the platform endpoints), the version (`/api/about`), and the API key's rights (the
// procedures the post-flight checks call). Reads only; never sent to an instance that is still booting.
import type { CheckstackClient } from '../checkstack/client.js';
import { isReadyUnknown } from '../checkstack/client.js';
import type { CheckstackFacts } from '../domain/doctor.js';
import { isAppError } from '../errors.js';

function reasonOf(err: unknown): string | undefined {
  return isAppError(err) && typeof err.details.reason === 'string' ? err.details.reason : undefined;
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export async function probeCheckstack(target: string, baseUrl: string, client: CheckstackClient): Promise<CheckstackFacts> {
  let era: CheckstackFacts['era'];
  try {
    const ready = await client.ready();
    era = isReadyUnknown(ready) ? 'pre-platform' : 'platform';
  } catch (err) {
    return { target, baseUrl, reachable: false, error: messageOf(err), era: 'unknown', version: null, apiKey: 'unknown' };
  }
  const about = era === 'platform' ? await client.about().catch(() => null) : null;
  const facts: CheckstackFacts = { target, baseUrl, reachable: true, era, version: about?.releaseVersion ?? null, apiKey: 'none_configured' };
  if (!client.hasApiKey) return facts;

  try {
    // A key with none of its role's rules sees no systems where an anonymous caller sees some (releases around 0.31).
    const [withKey, anonymous] = await Promise.all([client.getSystems(), client.anonymous().getSystems().catch(() => [])]);
    if (withKey.length === 0 && anonymous.length > 0) {
      return { ...facts, apiKey: 'lacks_permissions', apiKeyDetail: `it sees no systems where an anonymous caller sees ${anonymous.length}` };
    }
    await client.getDeliveryLogs({ page: 1, pageSize: 1 });
    return { ...facts, apiKey: 'ok' };
  } catch (err) {
    const reason = reasonOf(err);
    if (reason === 'rejected') return { ...facts, apiKey: 'rejected', apiKeyDetail: messageOf(err) };
    if (reason === 'missing_permissions') return { ...facts, apiKey: 'lacks_permissions', apiKeyDetail: messageOf(err) };
    return { ...facts, apiKey: 'unknown', apiKeyDetail: messageOf(err) };
  }
}
