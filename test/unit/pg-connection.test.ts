import { describe, expect, it } from 'vitest';
import { classifyPgError, classifyPgToolFailure, databaseNameOf, pgConnectionEnv, withDatabase } from '../../src/backup/pg-connection.js';

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

describe('classifyPgError: a failed connect or query of node-postgres, for backups and drills alike', () => {
  const systemError = (code: string, message: string) => Object.assign(new Error(message), { code });

  it.each([
    ['ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:1'],
    ['ENOTFOUND', 'getaddrinfo ENOTFOUND db.internal'],
    ['EAI_AGAIN', 'getaddrinfo EAI_AGAIN db.internal'],
    ['ETIMEDOUT', 'connect ETIMEDOUT 10.0.0.9:5432'],
    ['EHOSTUNREACH', 'connect EHOSTUNREACH 10.0.0.9:5432'],
    ['ENETUNREACH', 'connect ENETUNREACH 10.0.0.9:5432'],
    ['ECONNRESET', 'read ECONNRESET'],
  ])('calls %s unreachable', (code, message) => {
    expect(classifyPgError(systemError(code, message))).toBe('unreachable');
  });

  // The drill used to call every code starting with E unreachable; these are what changed for it (backups read them so already).
  it.each([
    ['EACCES', "EACCES: permission denied, open '/certs/root.crt'", 'other'],
    ['EPROTO', 'write EPROTO 1C0A0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number', 'other'],
    ['EPIPE', 'write EPIPE', 'other'],
    ['EHOSTDOWN', 'connect EHOSTDOWN 10.0.0.9:5432 - Local (0.0.0.0:0) could not connect', 'unreachable'],
  ] as const)('reads another Node code, %s, by its message: %j is %s', (code, message, kind) => {
    expect(classifyPgError(systemError(code, message))).toBe(kind);
  });

  it.each([
    ['28P01', 'password authentication failed for user "ck"', 'auth'],
    ['28000', 'no pg_hba.conf entry for host "10.0.0.2"', 'auth'],
    ['3D000', 'database "nope" does not exist', 'no_database'],
    ['42501', 'permission denied to create database', 'other'],
  ] as const)('reads the server code %s as %s', (code, message, kind) => {
    expect(classifyPgError(systemError(code, message))).toBe(kind);
  });

  it('reads an error without a code by its message', () => {
    expect(classifyPgError(new Error('timeout expired'))).toBe('unreachable');
    expect(classifyPgError(new Error('Connection terminated unexpectedly'))).toBe('other');
    expect(classifyPgError('not even an error')).toBe('other');
  });
});
