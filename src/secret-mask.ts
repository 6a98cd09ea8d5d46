// Masks what looks secret in text from outside (a container's log line, an engine's error) before a log or Slack sees it;
// the logger's own redaction of known fields is in src/logger.ts.

/**
 * A name that holds a secret: `ENCRYPTION_MASTER_KEY`, `apiKey`, `SLACK_BOT_TOKEN`, `db_password`, `client-secret`,
 * `Authorization`. The one list for the logger's fields, assignments in outside text and a container's variables.
 */
export const SECRET_NAME = /key|token|secret|passw(?:or)?d|pwd|credentials?|authorization|cookie|signature/i;
const SECRET_ASSIGNMENT = new RegExp(
  `((?:["']?)[A-Za-z0-9_.-]*(?:${SECRET_NAME.source})(?:["']?)\\s*[=:]\\s*)("(?:[^"\\\\]|\\\\.)*"|'[^']*'|[^\\s,;&}\\]]+)`,
  'gi',
);
const KNOWN_SECRET_FORMATS: RegExp[] = [
  /\bck_[0-9a-f-]{36}_[A-Za-z0-9._~-]+/gi, // Checkstack application API keys
  /\bxox[abposr]-[A-Za-z0-9-]+/g, // Slack tokens
  /\bxapp-[A-Za-z0-9-]+/g,
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g, // GitHub tokens
  /\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]{8,}/g,
];
export const MASK = '•••';

/**
 * The line with every value that looks secret replaced by `•••`: `KEY=`, `TOKEN=`, `SECRET=`, `PASSWORD=`
 * assignments (also JSON and `key: value`), URL credentials, bearer tokens and known token formats.
 */
export function maskSecrets(text: string): string {
  let masked = text.replace(SECRET_ASSIGNMENT, (_all, name: string, value: string) => {
    const quote = value.startsWith('"') || value.startsWith("'") ? value[0] : '';
    return `${name}${quote}${MASK}${quote}`;
  });
  masked = masked.replace(/(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]+:)[^\s@/]+@/gi, `$1${MASK}@`);
  for (const format of KNOWN_SECRET_FORMATS) {
    masked = masked.replace(format, (match: string, scheme?: string) =>
      typeof scheme === 'string' && /^(Bearer|Basic)$/.test(scheme) ? `${scheme} ${MASK}` : MASK,
    );
  }
  return masked;
}
