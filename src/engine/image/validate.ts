// Structural validation of OCI documents (manifest, index, config, descriptor,
// layout header) as the image-spec JSON Schemas define them, plus the checks the
// upstream Go validator adds on top (Env entries are KEY=VALUE, sha256/sha512
// digests are lowercase hex of exact length, urls are absolute URIs, data is
// padded base64). Pure: used on every document tsstack reads from a registry,
// archive or layout, and on what it writes.

import { TsstackError } from '../../util/errors.js';
import { MT, MANIFEST_TYPES, INDEX_TYPES } from './oci.js';

type Check = (v: unknown, path: string, errs: string[]) => void;

const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;
const DIGEST = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const HEX_LEN: Record<string, number> = { sha256: 64, sha512: 128 };
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"{}|\\^`]*$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;
const ENV = /^[^=]+=/s;
const INT64 = 9223372036854775807;

const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function str(pattern?: RegExp, what?: string): Check {
  return (v, p, e) => {
    if (typeof v !== 'string') e.push(`${p}: must be a string`);
    else if (pattern && !pattern.test(v)) e.push(`${p}: ${JSON.stringify(v)} is not a valid ${what ?? 'value'}`);
  };
}
function int(min: number, max: number): Check {
  return (v, p, e) => {
    if (typeof v !== 'number' || !Number.isInteger(v)) e.push(`${p}: must be an integer`);
    else if (v < min || v > max) e.push(`${p}: ${v} is out of range`);
  };
}
const bool: Check = (v, p, e) => { if (typeof v !== 'boolean') e.push(`${p}: must be a boolean`); };
function arrayOf(item: Check, minItems = 0): Check {
  return (v, p, e) => {
    if (!Array.isArray(v)) { e.push(`${p}: must be an array`); return; }
    if (v.length < minItems) e.push(`${p}: must have at least ${minItems} item(s)`);
    v.forEach((x, i) => item(x, `${p}[${i}]`, e));
  };
}
function nullable(c: Check): Check {
  return (v, p, e) => { if (v !== null) c(v, p, e); };
}
function mapOf(value: Check): Check {
  return (v, p, e) => {
    if (!isObj(v)) { e.push(`${p}: must be an object`); return; }
    for (const [k, x] of Object.entries(v)) if (k.length > 0) value(x, `${p}.${k}`, e);
  };
}
const anyObject: Check = (v, p, e) => { if (!isObj(v)) e.push(`${p}: must be an object`); };
function object(props: Record<string, Check>, required: string[] = []): Check {
  return (v, p, e) => {
    if (!isObj(v)) { e.push(`${p}: must be an object`); return; }
    for (const r of required) if (!(r in v)) e.push(`${p}: "${r}" is required`);
    for (const [k, c] of Object.entries(props)) if (k in v) c(v[k], `${p}.${k}`, e);
  };
}

const mediaType = str(MEDIA_TYPE, 'media type');
const digest: Check = (v, p, e) => {
  if (typeof v !== 'string') { e.push(`${p}: must be a string`); return; }
  if (!DIGEST.test(v)) { e.push(`${p}: ${JSON.stringify(v)} is not a valid digest`); return; }
  const [alg, enc] = v.split(':') as [string, string];
  const len = HEX_LEN[alg];
  if (len !== undefined && !new RegExp(`^[a-f0-9]{${len}}$`).test(enc)) e.push(`${p}: ${alg} digest must be ${len} lowercase hex characters`);
};
const urls = arrayOf((v, p, e) => {
  if (typeof v !== 'string' || !URI.test(v)) { e.push(`${p}: ${JSON.stringify(v)} is not an absolute URI`); return; }
  try { new URL(v); } catch { e.push(`${p}: ${JSON.stringify(v)} is not a valid URI`); }
});
const annotations = mapOf(str());
const platform = object({
  architecture: str(), os: str(), 'os.version': str(), 'os.features': arrayOf(str()), variant: str(),
}, ['architecture', 'os']);

const descriptor = object({
  mediaType, size: int(0, INT64), digest, urls, data: str(BASE64, 'base64 string'), artifactType: mediaType, annotations,
}, ['mediaType', 'size', 'digest']);

const manifestDescriptor = object({
  mediaType, size: int(-INT64, INT64), digest, urls, platform, annotations,
}, ['mediaType', 'size', 'digest']);

const schemaVersion = int(2, 2);

const manifest = object({
  schemaVersion, mediaType, artifactType: mediaType, config: descriptor, subject: descriptor,
  layers: arrayOf(descriptor, 1), annotations,
}, ['schemaVersion', 'config', 'layers']);

const index = object({
  schemaVersion, mediaType, artifactType: mediaType, subject: descriptor, manifests: arrayOf(manifestDescriptor), annotations,
}, ['schemaVersion', 'manifests']);

const layout = object({
  imageLayoutVersion: (v, p, e) => { if (v !== '1.0.0') e.push(`${p}: must be "1.0.0"`); },
}, ['imageLayoutVersion']);

const dateTime = str(DATE_TIME, 'RFC 3339 date-time');
const strings = arrayOf(str());
const config = object({
  created: dateTime, author: str(), architecture: str(), variant: str(), os: str(), 'os.version': str(), 'os.features': strings,
  config: object({
    User: str(), ExposedPorts: mapOf(anyObject),
    Env: arrayOf(str(ENV, 'environment entry (KEY=VALUE)')),
    Entrypoint: nullable(strings), Cmd: nullable(strings),
    Volumes: nullable(mapOf(anyObject)), WorkingDir: str(), Labels: nullable(mapOf(str())), StopSignal: str(), ArgsEscaped: bool,
  }),
  rootfs: object({ diff_ids: strings, type: (v, p, e) => { if (v !== 'layers') e.push(`${p}: must be "layers"`); } }, ['diff_ids', 'type']),
  history: arrayOf(object({ created: dateTime, author: str(), created_by: str(), comment: str(), empty_layer: bool })),
}, ['architecture', 'os', 'rootfs']);

export type DocumentKind = 'manifest' | 'index' | 'config' | 'descriptor' | 'layout';

const CHECKS: Record<DocumentKind, Check> = { manifest, index, config, descriptor, layout };

/** Which validator a media type selects; undefined for types tsstack does not validate. */
export function kindOfMediaType(mt: string): DocumentKind | undefined {
  if (MANIFEST_TYPES.includes(mt)) return 'manifest';
  if (INDEX_TYPES.includes(mt)) return 'index';
  if (mt === MT.ociConfig || mt === MT.dockerConfig) return 'config';
  if (mt === MT.ociDescriptor) return 'descriptor';
  if (mt === MT.ociLayout) return 'layout';
  return undefined;
}

/** Problems with a parsed document, as `$.path: what` lines; empty when valid. */
export function validateDocument(kind: DocumentKind, doc: unknown): string[] {
  const errs: string[] = [];
  CHECKS[kind](doc, '$', errs);
  return errs;
}

/** Parses JSON text and validates it; problems (incl. bad JSON) as lines. */
export function checkDocumentText(kind: DocumentKind, text: string): string[] {
  let doc: unknown;
  try { doc = JSON.parse(text); } catch (e) { return [`not valid JSON: ${(e as Error).message}`]; }
  return validateDocument(kind, doc);
}

/** Parses and validates, throwing an IMAGE TsstackError naming `where` (a ref, file or digest). */
export function parseDocument<T>(kind: DocumentKind, text: string | Uint8Array, where: string): T {
  const s = typeof text === 'string' ? text : Buffer.from(text).toString('utf8');
  let doc: unknown;
  try { doc = JSON.parse(s); } catch (e) {
    throw new TsstackError('IMAGE', `${where}: ${kind} is not valid JSON: ${(e as Error).message}`);
  }
  const errs = validateDocument(kind, doc);
  if (errs.length > 0) {
    throw new TsstackError('IMAGE', `${where}: invalid OCI ${kind}: ${errs[0]}`, {
      details: errs.slice(1), hint: 'the image source produced a document that does not follow the OCI image spec',
    });
  }
  return doc as T;
}
