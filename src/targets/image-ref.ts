// Reading image references (`registry:5000/repo:tag`, `repo@sha256:…`) the way both platforms write them.

/** The tag of an image reference (`host:5000/repo:1.2.3` → `1.2.3`), or null for digests and untagged refs. */
export function imageTag(ref: string): string | null {
  if (ref.includes('@')) return null;
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.indexOf(':', lastSlash + 1);
  return colon === -1 ? null : ref.slice(colon + 1);
}
