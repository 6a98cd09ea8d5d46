// The Slack calls of backups and restore drills run as jobs: each result goes to the channel it was asked in (a
// scheduled drill: the target's channel).
import type { WebClient } from '@slack/web-api';
import type { BackupRecord } from '../domain/backup.js';
import { backupFailedText, backupTakenText } from './backup-words.js';
import { drillFailedText, drillResultText, type DrillFacts } from './drill-words.js';

export interface BackupPoster {
  backupTaken(channel: string, facts: { record: BackupRecord; requestedBy: string; durationMs: number; removed: number }): Promise<void>;
  backupFailed(channel: string, facts: { target: string; requestedBy: string; reason: string }): Promise<void>;
  drillResult(channel: string, facts: { result: DrillFacts; requestedBy: string | null }): Promise<void>;
  drillFailed(channel: string, facts: { target: string; requestedBy: string | null; reason: string }): Promise<void>;
}

export function createBackupPoster(slack: Pick<WebClient, 'chat'>): BackupPoster {
  const post = async (channel: string, text: string) => {
    await slack.chat.postMessage({ channel, text, unfurl_links: false });
  };
  return {
    backupTaken: (channel, f) => post(channel, backupTakenText(f.record, f.requestedBy, f.durationMs, f.removed)),
    backupFailed: (channel, f) => post(channel, backupFailedText(f.target, f.requestedBy, f.reason)),
    drillResult: (channel, f) => post(channel, drillResultText(f.result, f.requestedBy)),
    drillFailed: (channel, f) => post(channel, drillFailedText(f.target, f.requestedBy, f.reason)),
  };
}
