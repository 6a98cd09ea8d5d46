// Bolt and @slack/web-api log through this adapter, so their lines get the same redaction as ours.
import { LogLevel, type Logger as SlackLogger } from '@slack/logger';
import type { Logger } from '../logger.js';

const TO_PINO: Record<LogLevel, string> = {
  [LogLevel.ERROR]: 'error',
  [LogLevel.WARN]: 'warn',
  [LogLevel.INFO]: 'info',
  [LogLevel.DEBUG]: 'debug',
};

export function slackLogger(logger: Logger, component: string): SlackLogger {
  let child = logger.child({ component });
  const line = (msg: unknown[]) => msg.map((m) => (typeof m === 'string' ? m : m instanceof Error ? m.message : JSON.stringify(m))).join(' ');
  // Bolt logs at debug on every request; formatting those lines only to drop them costs real CPU under load.
  return {
    debug: (...msg) => {
      if (child.isLevelEnabled('debug')) child.debug({ slack: line(msg) }, 'slack library debug');
    },
    info: (...msg) => {
      if (child.isLevelEnabled('info')) child.info({ slack: line(msg) }, 'slack library info');
    },
    warn: (...msg) => child.warn({ slack: line(msg) }, 'slack library warning'),
    error: (...msg) => child.error({ slack: line(msg) }, 'slack library error'),
    setLevel: (level) => {
      child.level = TO_PINO[level] ?? 'info';
    },
    getLevel: () => (Object.entries(TO_PINO).find(([, v]) => v === child.level)?.[0] as LogLevel) ?? LogLevel.INFO,
    setName: (name) => {
      child = logger.child({ component: name });
    },
  };
}
