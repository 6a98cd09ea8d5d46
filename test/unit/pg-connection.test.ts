import { describe, expect, it } from 'vitest';
import { classifyPgToolFailure, databaseNameOf, pgConnectionEnv, withDatabase } from '../../src/backup/pg-connection.js';

describe('pgConnectionEnv', () => {
  it('turns a URL into libpq variables, decoding user, password and database', () => {
    expect(pgConnectionEnv('postgres://check%40stack:p%40ss%2Fw0rd@db.internal:6543/check%20stack?sslmode=require', 'prod')).toEqual({
      PGHOST: 'db.internal', PGPORT: '6543', PGUSER: 'check@stack', PGPASSWORD: 'p@ss/w0rd', PGDATABASE: 'check stack', PGSSLMODE: 'require', PGCONNECT_TIMEOUT: '10',
    });
    expect(pgConnectionEnv('postgresql://[::1]/checkstack', 'prod')).toEqual({ PGHOST: '::1', PGPORT: '5432', PGDATABASE: 'checkstack', PGCONNECT_TIMEOUT: '10' });
  });

  it('refuses what is not a Postgres URL with a database, without echoing the URL', () => {
    for (const [url, message] of [
      ['not a url with s3cret', /is not a URL/],
      ['mysql://u:s3cret@db/x', /must start with postgres:\/\//],
      ['postgres://u:s3cret@db/', /names no database/],
    ] as const) {
      expect(() => pgConnectionEnv(url, 'prod')).toThrow(message);
      try {
        pgConnectionEnv(url, 'prod');
      } catch (err) {
        expect((err as Error).message).not.toContain('s3cret');
      }
    }
  });

  it('names and swaps the database of a URL', () => {
    expect(databaseNameOf('postgres://u:p@db:5432/checkstack')).toBe('checkstack');
    expect(withDatabase('postgres://u:p@db:5432/checkstack?sslmode=disable', 'checkstack_drill_ab12')).toBe('postgres://u:p@db:5432/checkstack_drill_ab12?sslmode=disable');
  });
});

describe('classifyPgToolFailure', () => {
  it.each([
    ['pg_dump: error: connection to server at "127.0.0.1", port 1 failed: Connection refused', 'unreachable'],
    ['pg_dump: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "ck"', 'auth'],
    ['pg_dump: error: aborting because of server version mismatch\npg_dump: detail: server version: 17.2; pg_dump version: 15.19', 'version_mismatch'],
    ['pg_dump: error: connection to server at "db" failed: FATAL:  database "nope" does not exist', 'no_database'],
    ['pg_dump: error: something odd', 'other'],
  ] as const)('reads %j as %s', (stderr, kind) => {
    expect(classifyPgToolFailure(stderr)).toBe(kind);
  });
  it('reads a full disk from the write error', () => {
    expect(classifyPgToolFailure('', 'ENOSPC')).toBe('disk_full');
  });
});
