import { describe, expect, it } from 'vitest';
import { replaceImageTag } from '../../src/pin/pin-record-text.js';
import { AppError } from '../../src/errors.js';

const IMAGE = 'ghcr.io/enyineer/checkstack';

const COMPOSE = `# Checkstack production stack
name: checkstack

services:
  checkstack:
    image: ghcr.io/enyineer/checkstack:0.140.0   # pinned by checkstack-chatops
    restart: unless-stopped
    env_file: .env
    environment:
      DATABASE_URL: postgres://checkstack:\${POSTGRES_PASSWORD}@postgres:5432/checkstack
      ENCRYPTION_MASTER_KEY: \${ENCRYPTION_MASTER_KEY}
    ports:
      - "8080:3000"
    depends_on:
      postgres:
        condition: service_healthy

  checkstack-worker:
    image: "ghcr.io/enyineer/checkstack:0.140.0"
    command: ["worker"]

  sidecar:
    image: ghcr.io/enyineer/checkstack-sidecar:0.140.0
  legacy:
    image: ghcr.io/enyineer/checkstack:0.140.01
  # image: ghcr.io/enyineer/checkstack:0.140.0  (kept for reference)

  postgres:
    image: postgres:17-alpine
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U checkstack"]

volumes:
  pgdata:
`;

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: checkstack
  namespace: checkstack
  labels:
    app.kubernetes.io/name: checkstack
    app.kubernetes.io/version: "0.140.0"
spec:
  replicas: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: checkstack
  template:
    metadata:
      labels:
        app.kubernetes.io/name: checkstack
    spec:
      initContainers:
        - name: wait-for-db
          image: busybox:1.37
      containers:
        - image: 'ghcr.io/enyineer/checkstack:0.140.0'
          name: checkstack
          imagePullPolicy: IfNotPresent
          ports:
            - containerPort: 3000
          readinessProbe:
            httpGet:
              path: /.checkstack/ready
              port: 3000
        - name: log-shipper
          image: fluent/fluent-bit:3.2
`;

describe('replaceImageTag', () => {
  it('changes only the checkstack image lines of a compose file', () => {
    const { text, replaced } = replaceImageTag(COMPOSE, IMAGE, '0.140.0', '0.141.0');

    expect(replaced).toBe(2);
    expect(text).toBe(
      COMPOSE.replace(
        'image: ghcr.io/enyineer/checkstack:0.140.0   # pinned',
        'image: ghcr.io/enyineer/checkstack:0.141.0   # pinned',
      ).replace('image: "ghcr.io/enyineer/checkstack:0.140.0"', 'image: "ghcr.io/enyineer/checkstack:0.141.0"'),
    );
    expect(text).toContain('checkstack-sidecar:0.140.0');
    expect(text).toContain('checkstack:0.140.01');
    expect(text).toContain('# image: ghcr.io/enyineer/checkstack:0.140.0  (kept for reference)');
  });

  it('changes the container image of a Kubernetes deployment, list item and single quotes included', () => {
    const { text, replaced } = replaceImageTag(DEPLOYMENT, IMAGE, '0.140.0', '0.141.0');

    expect(replaced).toBe(1);
    expect(text).toBe(
      DEPLOYMENT.replace("- image: 'ghcr.io/enyineer/checkstack:0.140.0'", "- image: 'ghcr.io/enyineer/checkstack:0.141.0'"),
    );
    // The version label is not an image line: the caller owns it.
    expect(text).toContain('app.kubernetes.io/version: "0.140.0"');
  });

  it('keeps CRLF line endings and a missing final newline', () => {
    const crlf = 'services:\r\n  app:\r\n    image: ghcr.io/enyineer/checkstack:0.140.0\r\n    restart: always';

    const { text, replaced } = replaceImageTag(crlf, IMAGE, '0.140.0', '0.141.0');

    expect(replaced).toBe(1);
    expect(text).toBe('services:\r\n  app:\r\n    image: ghcr.io/enyineer/checkstack:0.141.0\r\n    restart: always');
  });

  it('reports 0 replacements when the file pins another version', () => {
    expect(replaceImageTag(COMPOSE, IMAGE, '0.139.0', '0.141.0')).toEqual({ text: COMPOSE, replaced: 0 });
  });

  it('does not match a mismatched quote or a digest', () => {
    const text = `a:\n  image: "ghcr.io/enyineer/checkstack:0.140.0'\nb:\n  image: ghcr.io/enyineer/checkstack:0.140.0@sha256:${'a'.repeat(64)}\n`;

    expect(replaceImageTag(text, IMAGE, '0.140.0', '0.141.0').replaced).toBe(0);
  });

  it('refuses versions and images that are not Docker references', () => {
    expect(() => replaceImageTag(COMPOSE, IMAGE, '0.140.0', 'latest; rm -rf')).toThrow(AppError);
    expect(() => replaceImageTag(COMPOSE, `${IMAGE}:0.140.0`, '0.140.0', '0.141.0')).toThrow(AppError);
    expect(() => replaceImageTag(COMPOSE, IMAGE, '', '0.141.0')).toThrow(AppError);
  });

  it('treats regular-expression characters in the image literally', () => {
    const text = '    image: ghcrXio/enyineer/checkstack:0.140.0\n';

    expect(replaceImageTag(text, IMAGE, '0.140.0', '0.141.0').replaced).toBe(0);
  });
});
