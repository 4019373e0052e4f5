// The client's own rules, with no gallery service: which route an upload takes, errors from answers
// that are not the envelope, where the curator key is sent (tiny local HTTP servers), and what a call
// sends by default (a recording fetch, the client's own `fetch` option).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';

import {
  DEFAULT_DIRECT_UPLOAD_THRESHOLD,
  GalleryApiError,
  GalleryClient,
  uploadRoute,
} from '../src/index.js';

const MB = 1000 * 1000;

describe('uploadRoute', () => {
  test('by default a camera JPEG over API Gateway’s limit goes straight to S3, a small one in the request', () => {
    assert.equal(uploadRoute([5 * MB]), 'direct');
    assert.equal(uploadRoute([12 * MB]), 'direct');
    assert.equal(uploadRoute([1 * MB]), 'multipart');
    assert.equal(uploadRoute([DEFAULT_DIRECT_UPLOAD_THRESHOLD]), 'multipart');
    assert.equal(uploadRoute([DEFAULT_DIRECT_UPLOAD_THRESHOLD + 1]), 'direct');
  });

  test('a batch of small files whose total is over the threshold goes straight to S3', () => {
    assert.equal(uploadRoute([2 * MB, 2 * MB]), 'multipart');
    assert.equal(uploadRoute([2 * MB, 2 * MB, 1 * MB]), 'direct');
    assert.equal(uploadRoute([100, 100], 150), 'direct');
    assert.equal(uploadRoute([], 150), 'multipart');
  });

  test('the default fits one Lambda invocation (6 MB) once base64-encoded, with room for the form', () => {
    const base64 = (bytes) => Math.ceil(bytes / 3) * 4;
    assert.ok(base64(DEFAULT_DIRECT_UPLOAD_THRESHOLD) < 6 * 1024 * 1024 - 512 * 1024);
    assert.equal(
      new GalleryClient({ baseUrl: 'https://api.example.test' }).directUploadThreshold,
      DEFAULT_DIRECT_UPLOAD_THRESHOLD,
    );
    assert.equal(
      new GalleryClient({ baseUrl: 'https://api.example.test', directUploadThreshold: 10 })
        .directUploadThreshold,
      10,
    );
  });
});

/**
 * A loopback HTTP server answering each request with `respond(request)`; requests are recorded.
 * @param {(request: http.IncomingMessage, url: string) => {status: number, type?: string, body: string}} respond
 */
async function server(respond) {
  const seen = [];
  const instance = http.createServer((request, response) => {
    seen.push({ url: request.url, headers: request.headers });
    const { status, type, body } = respond(request, `http://127.0.0.1:${instance.address().port}`);
    response.writeHead(status, type ? { 'Content-Type': type } : {}).end(body);
  });
  await new Promise((resolve) => instance.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${instance.address().port}`, seen, close: () => instance.close() };
}

describe('answers that are not the envelope', () => {
  let gateway;
  before(async () => {
    gateway = await server((request) =>
      request.url.startsWith('/api/galleries/ok')
        ? { status: 200, type: 'text/html', body: '<html>a proxy page</html>' }
        : { status: 502, type: 'text/html', body: '<html><h1>502 Bad Gateway</h1></html>' },
    );
  });
  after(() => gateway.close());

  test('a non-2xx HTML body throws GalleryApiError saying it is not JSON, with the text', async () => {
    const client = new GalleryClient({ baseUrl: gateway.url });
    const error = await client.galleries.get('any').then(
      () => assert.fail('no error'),
      (thrown) => thrown,
    );
    assert.ok(error instanceof GalleryApiError);
    assert.equal(error.status, 502);
    assert.match(error.error, /not JSON \(text\/html\)/);
    assert.equal(error.details, null);
    assert.equal(error.body, '<html><h1>502 Bad Gateway</h1></html>');
  });

  test('a 2xx that is not JSON throws too', async () => {
    const client = new GalleryClient({ baseUrl: gateway.url });
    await assert.rejects(
      client.galleries.get('ok'),
      (error) => error instanceof GalleryApiError && error.status === 200,
    );
  });
});

describe('the curator key', () => {
  let api;
  let elsewhere;
  before(async () => {
    elsewhere = await server(() => ({
      status: 200,
      type: 'application/json',
      body: '{"results": [2], "next": null}',
    }));
    api = await server(() => ({
      status: 200,
      type: 'application/json',
      body: JSON.stringify({ results: [1], next: `${elsewhere.url}/api/galleries?cursor=x`, previous: null }),
    }));
  });
  after(() => {
    api.close();
    elsewhere.close();
  });

  test('goes to the API’s origin only, never to a host a next link names', async () => {
    const client = new GalleryClient({ baseUrl: `${api.url}/`, curatorKey: 'gk_secret' });
    const items = [];
    for await (const item of client.galleries.iterate()) items.push(item);
    assert.deepEqual(items, [1, 2]);
    assert.equal(api.seen[0].headers.authorization, 'Bearer gk_secret');
    assert.equal(elsewhere.seen[0].headers.authorization, undefined);
  });
});

describe('galleries.create', () => {
  test('makes a private gallery unless told otherwise, also when visibility is left undefined', async () => {
    /** @type {any[]} */
    const sent = [];
    /** @type {typeof fetch} */
    const recording = async (url, init) => {
      sent.push(JSON.parse(String(init?.body)));
      return new Response(JSON.stringify({ galleryId: 'g' }), {
        status: 201,
        headers: { 'Content-Type': 'application/json' },
      });
    };
    const client = new GalleryClient({ baseUrl: 'http://127.0.0.1:9', curatorKey: 'k', fetch: recording });
    const fields = { name: 'n', continent: 'Europe', country: 'France' };
    await client.galleries.create(fields);
    await client.galleries.create({ ...fields, visibility: undefined });
    await client.galleries.create({ ...fields, visibility: 'public' });
    assert.deepEqual(
      sent.map((body) => body.visibility),
      ['private', 'private', 'public'],
    );
  });
});

describe('photos.upload straight to S3', () => {
  /**
   * A fetch that answers the slots request with one slot per file (`maxBytes` each) and records every
   * post to S3; `failFirst`: S3 refuses the first file.
   * @param {{maxBytes: number, failFirst?: boolean}} options
   */
  function s3Recording({ maxBytes, failFirst = false }) {
    /** @type {string[]} */
    const posted = [];
    /** @type {typeof fetch} */
    const recording = async (url, init) => {
      const address = String(url);
      if (address.endsWith('/uploads')) {
        const { files } = JSON.parse(String(init?.body));
        const uploads = files.map((/** @type {any} */ _file, /** @type {number} */ at) => ({
          uploadKey: `uploads/g/${String(at).padStart(32, '0')}`,
          url: 'http://s3.invalid/bucket',
          fields: { key: `k${at}` },
          maxBytes,
        }));
        return Response.json({ uploads }, { status: 201 });
      }
      if (address === 'http://s3.invalid/bucket') {
        const key = String(/** @type {FormData} */ (init?.body).get('key'));
        posted.push(key);
        await new Promise((resolve) => setTimeout(resolve, key === 'k0' ? 1 : 20));
        if (failFirst && key === 'k0')
          return new Response('<Error><Message>Access Denied</Message></Error>', { status: 403 });
        return new Response(null, { status: 204 });
      }
      return Response.json({ photos: [], errors: [] }, { status: 201 });
    };
    return { posted, recording };
  }

  /** @param {number} count @param {number} size */
  const files = (count, size) =>
    Array.from({ length: count }, (_, at) => ({ name: `p${at}.jpg`, data: new Uint8Array(size), type: 'image/jpeg' }));

  test('a file over its slot is refused before anything is posted', async () => {
    const { posted, recording } = s3Recording({ maxBytes: 100 });
    const client = new GalleryClient({ baseUrl: 'http://127.0.0.1:9', curatorKey: 'k', fetch: recording });
    const batch = [...files(1, 10), ...files(1, 101)];
    await assert.rejects(client.photos.upload('g', batch, { directUploadThreshold: 1 }), RangeError);
    assert.deepEqual(posted, []);
  });

  test('no post starts after S3 refused one; the refusal is thrown with S3 message', async () => {
    const { posted, recording } = s3Recording({ maxBytes: 1000, failFirst: true });
    const client = new GalleryClient({ baseUrl: 'http://127.0.0.1:9', curatorKey: 'k', fetch: recording });
    const refused = await client.photos.upload('g', files(8, 10), { directUploadThreshold: 1 }).then(
      () => assert.fail('the upload should fail'),
      (error) => error,
    );
    assert.ok(refused instanceof GalleryApiError && refused.status === 403, String(refused));
    assert.match(refused.error, /Access Denied/);
    // Four posts at once: the first fails at once, the three beside it finish (20 ms: waited for here,
    // since the upload rejects as soon as one fails), and none of the other four starts.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(posted.sort(), ['k0', 'k1', 'k2', 'k3']);
  });
});
