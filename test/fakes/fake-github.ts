// A loopback fake of the parts of GitHub's REST API the bot uses, speaking the real wire protocol
// (JSON bodies, absolute `Link` headers, ETag/If-None-Match → 304, rate-limit headers, GitHub-shaped errors).
// It models one repository as real Git does: refs point at commits, commits hold a whole tree of files.
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GithubRelease } from '../../src/domain/release-types.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: unknown;
}

export interface FakeFile {
  content: string;
  /** The Git blob sha, as GitHub reports it. */
  sha: string;
}

export interface FakeCommit {
  sha: string;
  parent: string | null;
  message: string;
  files: ReadonlyMap<string, FakeFile>;
}

export interface FakePull {
  number: number;
  title: string;
  body: string | null;
  head: string;
  base: string;
  state: 'open' | 'closed';
  merged: boolean;
  comments: string[];
}

export interface FakeRepoFiles {
  /** The file at a branch, tag or commit sha; undefined when absent. */
  get(ref: string, path: string): FakeFile | undefined;
  /** Commits `content` at `path` on a branch (created from `main` when missing); returns the commit. */
  put(branch: string, path: string, content: string, message?: string): FakeCommit;
  /** Every path at a ref. */
  list(ref: string): string[];
  /** The commit a branch or tag points at. */
  head(ref: string): FakeCommit | undefined;
  /** Every commit of a branch, newest first. */
  history(branch: string): FakeCommit[];
  /** Points tag `name` at the current commit of `ref`. */
  tag(name: string, ref?: string): void;
}

interface FailureRule {
  remaining: number;
  status: number;
  headers: Record<string, string>;
  body: unknown;
  when: ((req: RecordedRequest) => boolean) | undefined;
}

export interface FakeGithub {
  url: string;
  requests: RecordedRequest[];
  setReleases(releases: GithubRelease[]): void;
  /** Adds a release as the newest one. */
  addRelease(release: GithubRelease): void;
  editRelease(tag: string, patch: Partial<GithubRelease>): void;
  deleteRelease(tag: string): void;
  /** The next `n` requests (matching `when`, if given) answer `status` instead of being served. */
  failNext(
    n: number,
    status: number,
    headers?: Record<string, string>,
    body?: unknown,
    when?: (req: RecordedRequest) => boolean,
  ): void;
  /** Runs `action` once, just before the first request matching `when` is served (to stage a race). */
  beforeNext(when: (req: RecordedRequest) => boolean, action: () => void): void;
  /**
   * Holds the next request matching `when` until `release`: `arrived` resolves once it came in. Released, it is
   * served even if its caller has gone (GitHub did the work; nobody heard the answer).
   */
  holdNext(when: (req: RecordedRequest) => boolean): HeldRequest;
  files: FakeRepoFiles;
  pulls: FakePull[];
  mergePull(number: number): FakeCommit;
  /** What an authenticated caller may do in the repository from now on. */
  setPermissions(permissions: RepoPermissions): void;
  close(): Promise<void>;
}

export interface HeldRequest {
  arrived: Promise<RecordedRequest>;
  release(): void;
}

export interface FakeGithubOptions {
  releases?: GithubRelease[];
  repo?: string;
  /** Default page size for list endpoints (GitHub's is 30). */
  perPage?: number;
  /** Files on `main` at start. */
  files?: Record<string, string>;
  /**
   * What an authenticated caller may do in the repository (`GET /repos/{owner}/{repo}` answers it as `permissions`;
   * GitHub leaves the field out for an anonymous caller). Default: push, as a token with write access has.
   */
  permissions?: RepoPermissions;
}

export interface RepoPermissions {
  admin: boolean;
  maintain: boolean;
  push: boolean;
  triage: boolean;
  pull: boolean;
}

const DOCS = 'https://docs.github.com/rest';
const REPOSITORY_ID = 4242;
const RATE_LIMIT = 5000;

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

const notFound = (): HttpError => new HttpError(404, { message: 'Not Found', documentation_url: DOCS, status: '404' });
const validationFailed = (message: string): HttpError =>
  new HttpError(422, {
    message: 'Validation Failed',
    errors: [{ resource: 'Resource', code: 'custom', message }],
    documentation_url: DOCS,
    status: '422',
  });

function blobSha(content: string): string {
  const bytes = Buffer.from(content, 'utf8');
  return createHash('sha1').update(`blob ${bytes.length}\0`).update(bytes).digest('hex');
}

/** GitHub wraps base64 content at 60 characters per line. */
function wrappedBase64(content: string): string {
  return (Buffer.from(content, 'utf8').toString('base64').match(/.{1,60}/g) ?? []).join('\n') + '\n';
}

function weakEtag(body: string): string {
  return `W/"${createHash('sha256').update(body).digest('hex').slice(0, 40)}"`;
}

// ---------------------------------------------------------------------------------------------------------
// The Git model: refs (`heads/x`, `tags/x`) → commits → whole file maps.

function createGitModel(initialFiles: Record<string, string>) {
  const commits = new Map<string, FakeCommit>();
  const refs = new Map<string, string>();

  function commit(parent: FakeCommit | null, files: Map<string, FakeFile>, message: string): FakeCommit {
    const sha = createHash('sha1').update(randomBytes(16)).digest('hex');
    const created: FakeCommit = { sha, parent: parent?.sha ?? null, message, files };
    commits.set(sha, created);
    return created;
  }

  const root = commit(
    null,
    new Map(Object.entries(initialFiles).map(([path, content]) => [path, { content, sha: blobSha(content) }])),
    'Initial commit',
  );
  refs.set('heads/main', root.sha);

  function resolve(ref: string): FakeCommit | undefined {
    const name = ref.replace(/^refs\//, '');
    const sha = refs.get(name) ?? refs.get(`heads/${name}`) ?? refs.get(`tags/${name}`) ?? name;
    return commits.get(sha);
  }

  function writeFile(branch: string, path: string, content: string, message: string): FakeCommit {
    const parent = resolve(`heads/${branch}`) ?? resolve('heads/main');
    const files = new Map(parent?.files ?? []);
    files.set(path, { content, sha: blobSha(content) });
    const created = commit(parent ?? null, files, message);
    refs.set(`heads/${branch}`, created.sha);
    return created;
  }

  const api: FakeRepoFiles = {
    get: (ref, path) => resolve(ref)?.files.get(path),
    put: (branch, path, content, message = `Update ${path}`) => writeFile(branch, path, content, message),
    list: (ref) => [...(resolve(ref)?.files.keys() ?? [])].sort(),
    head: (ref) => resolve(ref),
    history(branch) {
      const out: FakeCommit[] = [];
      for (let c = resolve(`heads/${branch}`); c; c = c.parent ? commits.get(c.parent) : undefined) out.push(c);
      return out;
    },
    tag(name, ref = 'main') {
      const target = resolve(ref);
      if (!target) throw new Error(`fake-github: no ref ${ref} to tag`);
      refs.set(`tags/${name}`, target.sha);
    },
  };
  return { api, refs, commits, resolve, writeFile, commit };
}

// ---------------------------------------------------------------------------------------------------------
// A small router: method + path pattern with named groups.

interface RouteContext {
  req: RecordedRequest;
  params: Record<string, string>;
  baseUrl: string;
}

interface RouteResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

type Handler = (ctx: RouteContext) => RouteResult;

interface Route {
  method: string;
  pattern: RegExp;
  handler: Handler;
}

function compile(template: string): RegExp {
  // `:name` matches one segment, `*name` the rest of the path.
  const source = template
    .replace(/[.]/g, '\\.')
    .replace(/\*(\w+)/g, '(?<$1>.+)')
    .replace(/:(\w+)/g, '(?<$1>[^/]+)');
  return new RegExp(`^${source}$`);
}

export async function startFakeGithub(options: FakeGithubOptions = {}): Promise<FakeGithub> {
  const fullName = options.repo ?? 'enyineer/checkstack';
  const [owner] = fullName.split('/') as [string, string];
  const defaultPerPage = options.perPage ?? 30;
  let releases: GithubRelease[] = [...(options.releases ?? [])];
  const pulls: FakePull[] = [];
  const requests: RecordedRequest[] = [];
  const failures: FailureRule[] = [];
  const interceptors: Array<{ when: (req: RecordedRequest) => boolean; action: () => void; done: boolean }> = [];
  const holds: Array<{ when: (req: RecordedRequest) => boolean; arrive(req: RecordedRequest): void; released: Promise<void>; release(): void; taken: boolean }> = [];
  const git = createGitModel(options.files ?? {});
  let used = 0;
  const resetAt = Math.floor(Date.now() / 1000) + 3600;

  const repoPrefix = `/repos/${fullName}`;
  let permissions: RepoPermissions = options.permissions ?? { admin: false, maintain: false, push: true, triage: true, pull: true };

  function releaseJson(release: GithubRelease, baseUrl: string): Record<string, unknown> {
    // Real answers carry many more fields than the bot reads; the client must tolerate them.
    return {
      url: `${baseUrl}${repoPrefix}/releases/${release.id}`,
      assets_url: `${baseUrl}${repoPrefix}/releases/${release.id}/assets`,
      node_id: `RE_${release.id}`,
      target_commitish: 'main',
      author: { login: 'github-actions[bot]', id: 41898282, type: 'Bot' },
      created_at: release.published_at,
      assets: [],
      tarball_url: `${baseUrl}${repoPrefix}/tarball/${release.tag_name}`,
      zipball_url: `${baseUrl}${repoPrefix}/zipball/${release.tag_name}`,
      ...release,
    };
  }

  function listReleases({ req, baseUrl }: RouteContext): RouteResult {
    const perPage = Math.min(Number(req.query.per_page ?? defaultPerPage) || defaultPerPage, 100);
    const page = Math.max(Number(req.query.page ?? 1) || 1, 1);
    const lastPage = Math.max(Math.ceil(releases.length / perPage), 1);
    const items = releases.slice((page - 1) * perPage, page * perPage).map((r) => releaseJson(r, baseUrl));
    const pageUrl = (n: number) => `${baseUrl}/repositories/${REPOSITORY_ID}/releases?per_page=${perPage}&page=${n}`;
    const links: string[] = [];
    if (page > 1) links.push(`<${pageUrl(page - 1)}>; rel="prev"`);
    if (page < lastPage) links.push(`<${pageUrl(page + 1)}>; rel="next"`, `<${pageUrl(lastPage)}>; rel="last"`);
    if (page > 1) links.push(`<${pageUrl(1)}>; rel="first"`);
    const headers: Record<string, string> = {};
    if (links.length > 0) headers.link = links.join(', ');
    return { status: 200, body: items, headers };
  }

  function releaseByTag({ params, baseUrl }: RouteContext): RouteResult {
    const release = releases.find((r) => r.tag_name === params.tag);
    if (!release) throw notFound();
    return { status: 200, body: releaseJson(release, baseUrl) };
  }

  function getContents({ req, params, baseUrl }: RouteContext): RouteResult {
    const ref = req.query.ref ?? 'main';
    const path = params.path ?? '';
    const commit = git.resolve(ref);
    if (!commit) throw new HttpError(404, { message: `No commit found for the ref ${ref}`, documentation_url: DOCS, status: '404' });
    const file = commit.files.get(path);
    if (!file) {
      const children = [...commit.files.keys()].filter((p) => p.startsWith(`${path}/`));
      if (children.length === 0) throw notFound();
      const names = [...new Set(children.map((p) => p.slice(path.length + 1).split('/')[0] as string))];
      return {
        status: 200,
        body: names.map((name) => {
          const childPath = `${path}/${name}`;
          const child = commit.files.get(childPath);
          return { name, path: childPath, type: child ? 'file' : 'dir', sha: child?.sha ?? blobSha(childPath), size: child ? Buffer.byteLength(child.content) : 0 };
        }),
      };
    }
    return {
      status: 200,
      body: {
        type: 'file',
        encoding: 'base64',
        size: Buffer.byteLength(file.content),
        name: path.split('/').pop(),
        path,
        content: wrappedBase64(file.content),
        sha: file.sha,
        url: `${baseUrl}${repoPrefix}/contents/${path}?ref=${ref}`,
      },
    };
  }

  function putContents({ req, params }: RouteContext): RouteResult {
    const path = params.path ?? '';
    const body = (req.body ?? {}) as { message?: string; content?: string; sha?: string; branch?: string };
    if (typeof body.message !== 'string' || typeof body.content !== 'string') throw validationFailed('message and content are required');
    const branch = body.branch ?? 'main';
    const head = git.resolve(`heads/${branch}`);
    if (!head) throw new HttpError(404, { message: `Branch ${branch} not found`, documentation_url: DOCS, status: '404' });
    const existing = head.files.get(path);
    if (existing && body.sha === undefined) throw validationFailed('"sha" wasn\'t supplied.');
    if (existing && body.sha !== existing.sha) {
      throw new HttpError(409, { message: `${path} does not match ${body.sha}`, documentation_url: DOCS, status: '409' });
    }
    const content = Buffer.from(body.content, 'base64').toString('utf8');
    const created = git.writeFile(branch, path, content, body.message);
    const file = created.files.get(path) as FakeFile;
    return {
      status: existing ? 200 : 201,
      body: {
        content: { name: path.split('/').pop(), path, sha: file.sha, size: Buffer.byteLength(content), type: 'file' },
        commit: { sha: created.sha, message: created.message, parents: created.parent ? [{ sha: created.parent }] : [] },
      },
    };
  }

  function refJson(name: string, sha: string, baseUrl: string) {
    return { ref: `refs/${name}`, node_id: `REF_${name}`, url: `${baseUrl}${repoPrefix}/git/refs/${name}`, object: { sha, type: 'commit' } };
  }

  function getRef({ params, baseUrl }: RouteContext): RouteResult {
    const name = params.ref ?? '';
    const sha = git.refs.get(name);
    if (!sha) throw notFound();
    return { status: 200, body: refJson(name, sha, baseUrl) };
  }

  function createRef({ req, baseUrl }: RouteContext): RouteResult {
    const body = (req.body ?? {}) as { ref?: string; sha?: string };
    if (typeof body.ref !== 'string' || !body.ref.startsWith('refs/') || body.ref.split('/').length < 3) {
      throw validationFailed('ref must be formatted as refs/heads/<name>');
    }
    if (typeof body.sha !== 'string' || !git.commits.has(body.sha)) throw validationFailed('Object does not exist');
    const name = body.ref.slice('refs/'.length);
    if (git.refs.has(name)) throw validationFailed('Reference already exists');
    git.refs.set(name, body.sha);
    return { status: 201, body: refJson(name, body.sha, baseUrl) };
  }

  function getTree({ req, params }: RouteContext): RouteResult {
    const commit = git.resolve(params.treeish ?? '');
    if (!commit) throw notFound();
    const recursive = req.query.recursive !== undefined;
    const entries: Array<Record<string, unknown>> = [];
    const dirs = new Set<string>();
    for (const [path, file] of commit.files) {
      const segments = path.split('/');
      for (let i = 1; i < segments.length; i++) dirs.add(segments.slice(0, i).join('/'));
      entries.push({ path, mode: '100644', type: 'blob', sha: file.sha, size: Buffer.byteLength(file.content) });
    }
    for (const dir of dirs) entries.push({ path: dir, mode: '040000', type: 'tree', sha: blobSha(`tree:${dir}`) });
    const visible = recursive ? entries : entries.filter((e) => !String(e.path).includes('/'));
    visible.sort((a, b) => String(a.path).localeCompare(String(b.path)));
    return { status: 200, body: { sha: commit.sha, tree: visible, truncated: false } };
  }

  function getBlob({ params }: RouteContext): RouteResult {
    for (const commit of git.commits.values()) {
      for (const file of commit.files.values()) {
        if (file.sha === params.sha) {
          return { status: 200, body: { sha: file.sha, size: Buffer.byteLength(file.content), encoding: 'base64', content: wrappedBase64(file.content) } };
        }
      }
    }
    throw notFound();
  }

  function pullJson(pull: FakePull, baseUrl: string) {
    return {
      number: pull.number,
      html_url: `https://github.com/${fullName}/pull/${pull.number}`,
      url: `${baseUrl}${repoPrefix}/pulls/${pull.number}`,
      state: pull.state,
      title: pull.title,
      body: pull.body,
      merged: pull.merged,
      merged_at: pull.merged ? new Date().toISOString() : null,
      head: { ref: pull.head, label: `${owner}:${pull.head}`, sha: git.refs.get(`heads/${pull.head}`) ?? null },
      base: { ref: pull.base, label: `${owner}:${pull.base}` },
    };
  }

  function findPull(params: Record<string, string>): FakePull {
    const pull = pulls.find((p) => p.number === Number(params.number));
    if (!pull) throw notFound();
    return pull;
  }

  function createPull({ req, baseUrl }: RouteContext): RouteResult {
    const body = (req.body ?? {}) as { title?: string; head?: string; base?: string; body?: string };
    if (!body.title || !body.head || !body.base) throw validationFailed('title, head and base are required');
    const head = body.head.includes(':') ? (body.head.split(':')[1] as string) : body.head;
    if (!git.refs.has(`heads/${head}`)) throw validationFailed(`head: ${head} is not a branch`);
    if (!git.refs.has(`heads/${body.base}`)) throw validationFailed(`base: ${body.base} is not a branch`);
    if (pulls.some((p) => p.head === head && p.base === body.base && p.state === 'open')) {
      throw validationFailed(`A pull request already exists for ${owner}:${head}.`);
    }
    const pull: FakePull = {
      number: pulls.length + 1,
      title: body.title,
      body: body.body ?? null,
      head,
      base: body.base,
      state: 'open',
      merged: false,
      comments: [],
    };
    pulls.push(pull);
    return { status: 201, body: pullJson(pull, baseUrl) };
  }

  function listPulls({ req, baseUrl }: RouteContext): RouteResult {
    const state = req.query.state ?? 'open';
    const headFilter = req.query.head;
    const matching = pulls.filter(
      (p) => (state === 'all' || p.state === state) && (headFilter === undefined || `${owner}:${p.head}` === headFilter),
    );
    return { status: 200, body: matching.map((p) => pullJson(p, baseUrl)) };
  }

  function getPull({ params, baseUrl }: RouteContext): RouteResult {
    return { status: 200, body: pullJson(findPull(params), baseUrl) };
  }

  function updatePull({ req, params, baseUrl }: RouteContext): RouteResult {
    const pull = findPull(params);
    const body = (req.body ?? {}) as { state?: string; title?: string; body?: string };
    if (body.state === 'closed' || body.state === 'open') pull.state = body.state;
    if (typeof body.title === 'string') pull.title = body.title;
    if (typeof body.body === 'string') pull.body = body.body;
    return { status: 200, body: pullJson(pull, baseUrl) };
  }

  function createIssueComment({ req, params }: RouteContext): RouteResult {
    const pull = findPull(params);
    const body = (req.body ?? {}) as { body?: string };
    if (typeof body.body !== 'string') throw validationFailed('body is required');
    pull.comments.push(body.body);
    return {
      status: 201,
      body: { id: pull.comments.length, body: body.body, html_url: `https://github.com/${fullName}/pull/${pull.number}#issuecomment-${pull.comments.length}` },
    };
  }

  function getRepository({ req, baseUrl }: RouteContext): RouteResult {
    const [, name] = fullName.split('/') as [string, string];
    const authenticated = req.headers.authorization !== undefined;
    return {
      status: 200,
      body: {
        id: REPOSITORY_ID,
        name,
        full_name: fullName,
        private: false,
        owner: { login: owner, type: 'Organization' },
        html_url: `https://github.com/${fullName}`,
        url: `${baseUrl}${repoPrefix}`,
        default_branch: 'main',
        ...(authenticated ? { permissions } : {}),
      },
    };
  }

  /** `GET /rate_limit` does not count against the limit it reports. */
  function getRateLimit(): RouteResult {
    used -= 1;
    const core = { limit: RATE_LIMIT, remaining: Math.max(RATE_LIMIT - used, 0), reset: resetAt, used, resource: 'core' };
    return { status: 200, body: { resources: { core }, rate: core } };
  }

  const routes: Route[] = [
    ['GET', '/rate_limit', getRateLimit],
    ['GET', repoPrefix, getRepository],
    ['GET', `${repoPrefix}/releases`, listReleases],
    ['GET', `/repositories/${REPOSITORY_ID}/releases`, listReleases],
    ['GET', `${repoPrefix}/releases/tags/:tag`, releaseByTag],
    ['GET', `${repoPrefix}/contents/*path`, getContents],
    ['PUT', `${repoPrefix}/contents/*path`, putContents],
    ['GET', `${repoPrefix}/git/ref/*ref`, getRef],
    ['GET', `${repoPrefix}/git/refs/*ref`, getRef],
    ['POST', `${repoPrefix}/git/refs`, createRef],
    ['GET', `${repoPrefix}/git/trees/*treeish`, getTree],
    ['GET', `${repoPrefix}/git/blobs/:sha`, getBlob],
    ['POST', `${repoPrefix}/pulls`, createPull],
    ['GET', `${repoPrefix}/pulls`, listPulls],
    ['GET', `${repoPrefix}/pulls/:number`, getPull],
    ['PATCH', `${repoPrefix}/pulls/:number`, updatePull],
    ['POST', `${repoPrefix}/issues/:number/comments`, createIssueComment],
  ].map(([method, template, handler]) => ({ method: method as string, pattern: compile(template as string), handler: handler as Handler }));

  function route(ctx: Omit<RouteContext, 'params'>): RouteResult {
    for (const candidate of routes) {
      if (candidate.method !== ctx.req.method) continue;
      const match = candidate.pattern.exec(ctx.req.path);
      if (!match) continue;
      // Octokit percent-encodes parameters (`heads/main` → `heads%2Fmain`); GitHub decodes them.
      const params = Object.fromEntries(Object.entries(match.groups ?? {}).map(([k, v]) => [k, decodeURIComponent(v)]));
      return candidate.handler({ ...ctx, params });
    }
    throw notFound();
  }

  function rateLimitHeaders(): Record<string, string> {
    return {
      'x-ratelimit-limit': String(RATE_LIMIT),
      'x-ratelimit-remaining': String(Math.max(RATE_LIMIT - used, 0)),
      'x-ratelimit-reset': String(resetAt),
      'x-ratelimit-used': String(used),
      'x-ratelimit-resource': 'core',
    };
  }

  function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
    const common = { ...rateLimitHeaders(), 'x-github-api-version-selected': '2022-11-28', 'x-github-request-id': randomBytes(8).toString('hex').toUpperCase() };
    if (status === 304 || body === undefined) {
      res.writeHead(status, { ...common, ...headers });
      res.end();
      return;
    }
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const contentType = typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json; charset=utf-8';
    res.writeHead(status, { ...common, 'content-type': contentType, ...headers });
    res.end(text);
  }

  async function readBody(req: IncomingMessage): Promise<unknown> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (chunks.length === 0) return undefined;
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }

  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      const recorded: RecordedRequest = {
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers,
        body: await readBody(req),
      };
      requests.push(recorded);
      used += 1;

      const interceptor = interceptors.find((i) => !i.done && i.when(recorded));
      if (interceptor) {
        interceptor.done = true;
        interceptor.action();
      }

      const hold = holds.find((h) => !h.taken && h.when(recorded));
      if (hold) {
        hold.taken = true;
        hold.arrive(recorded);
        await hold.released;
      }

      const failure = failures.find((f) => f.remaining > 0 && (f.when === undefined || f.when(recorded)));
      if (failure) {
        failure.remaining -= 1;
        send(res, failure.status, failure.body, failure.headers);
        return;
      }

      try {
        const result = route({ req: recorded, baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
        if (result.status === 200 && recorded.method === 'GET') {
          const etag = weakEtag(JSON.stringify(result.body));
          if (headers['if-none-match'] === etag) {
            send(res, 304, undefined, { etag, ...(result.headers ?? {}) });
            return;
          }
          send(res, 200, result.body, { etag, ...(result.headers ?? {}) });
          return;
        }
        send(res, result.status, result.body, result.headers ?? {});
      } catch (err) {
        if (err instanceof HttpError) send(res, err.status, err.body, err.headers);
        else send(res, 500, { message: String(err) }, {});
      }
    })();
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  function indexOf(tag: string): number {
    const index = releases.findIndex((r) => r.tag_name === tag);
    if (index < 0) throw new Error(`fake-github: no release ${tag}`);
    return index;
  }

  return {
    url,
    requests,
    files: git.api,
    pulls,
    setReleases(next) {
      releases = [...next];
    },
    addRelease(release) {
      releases = [release, ...releases];
    },
    editRelease(tag, patch) {
      const index = indexOf(tag);
      releases[index] = { ...(releases[index] as GithubRelease), ...patch };
    },
    deleteRelease(tag) {
      releases.splice(indexOf(tag), 1);
    },
    failNext(n, status, headers = {}, body, when) {
      const defaultBody =
        status >= 500
          ? '<html><body><h1>502 Bad Gateway</h1></body></html>'
          : { message: `Fake failure ${status}`, documentation_url: DOCS, status: String(status) };
      failures.push({ remaining: n, status, headers, body: body ?? defaultBody, when });
    },
    beforeNext(when, action) {
      interceptors.push({ when, action, done: false });
    },
    holdNext(when) {
      let arrive!: (req: RecordedRequest) => void;
      let release!: () => void;
      const arrived = new Promise<RecordedRequest>((resolve) => (arrive = resolve));
      const released = new Promise<void>((resolve) => (release = resolve));
      holds.push({ when, arrive, released, release, taken: false });
      return { arrived, release };
    },
    setPermissions(next) {
      permissions = { ...next };
    },
    mergePull(number) {
      const pull = pulls.find((p) => p.number === number);
      if (!pull || pull.state !== 'open') throw new Error(`fake-github: pull ${number} is not open`);
      const head = git.resolve(`heads/${pull.head}`) as FakeCommit;
      const base = git.resolve(`heads/${pull.base}`) as FakeCommit;
      const merge = git.commit(base, new Map(head.files), `Merge pull request #${number} from ${owner}/${pull.head}`);
      git.refs.set(`heads/${pull.base}`, merge.sha);
      pull.state = 'closed';
      pull.merged = true;
      return merge;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        for (const hold of holds) hold.release();
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
