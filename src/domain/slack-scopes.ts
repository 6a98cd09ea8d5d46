// The bot token scopes the bot needs, derived from the Slack Web API methods the code calls: manifest.yml asks for
// exactly these (test/integration/slack-scopes.test.ts scans the code and compares), and the doctor checks the
// scopes a workspace granted against them.

/**
 * Web API method -> the bot scopes Slack requires for it (from each method's page on api.slack.com). A method the
 * code calls that is missing here fails the scope test: add it with its scopes.
 */
export const SCOPES_BY_METHOD: Readonly<Record<string, readonly string[]>> = {
  'auth.test': [],
  'chat.postMessage': ['chat:write'],
  'chat.update': ['chat:write'],
  'chat.postEphemeral': ['chat:write'],
  'chat.delete': ['chat:write'],
  // Public channels need channels:read, private ones groups:read (the doctor asks whether the bot is a member).
  'conversations.info': ['channels:read', 'groups:read'],
  'usergroups.users.list': ['usergroups:read'],
  'users.info': ['users:read'],
  'views.publish': [],
  'views.open': [],
};

/** Scopes no method call shows, each with why the bot asks for it. */
export const SCOPES_WITHOUT_METHOD: Readonly<Record<string, string>> = {
  commands: 'the /checkstack slash command',
  'chat:write.public': 'announce in public channels the bot was not invited to',
};

/** `scope -> the methods (or the feature) needing it`, for the methods `used`, sorted by scope. */
export function neededScopes(used: Iterable<string>): Map<string, string[]> {
  const needed = new Map<string, string[]>();
  for (const [scope, why] of Object.entries(SCOPES_WITHOUT_METHOD)) needed.set(scope, [why]);
  for (const method of used) {
    for (const scope of SCOPES_BY_METHOD[method] ?? []) needed.set(scope, [...(needed.get(scope) ?? []), method]);
  }
  return new Map([...needed.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * The Web API methods the running bot calls, kept in step with the code by the scope test. The doctor compares the
 * granted scopes with the scopes these need.
 */
export const METHODS_CALLED: readonly string[] = [
  'auth.test',
  'chat.postEphemeral',
  'chat.postMessage',
  'chat.update',
  'conversations.info',
  'usergroups.users.list',
  'views.publish',
];
