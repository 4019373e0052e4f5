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
  etagOf,
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
 * @param {(request: http.IncomingMessage, url: string) => {status: number, type?: string, body: string, headers?: object}} respond
 */
async function server(respond) {
  const seen = [];
  const instance = http.createServer((request, response) => {
    seen.push({ url: request.url, headers: request.headers });
    const { status, type, body, headers = {} } = respond(request, `http://127.0.0.1:${instance.address().port}`);
    response.writeHead(status, { ...(type ? { 'Content-Type': type } : {}), ...headers }).end(body);
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

describe('Retry-After', () => {
  let gateway;
  before(async () => {
    const envelope = JSON.stringify({ error: 'Still being answered.', details: { code: 'idempotency_key_in_flight' } });
    gateway = await server((request) =>
      request.url.startsWith('/api/galleries/busy')
        ? { status: 409, type: 'application/json', body: envelope, headers: { 'Retry-After': '2' } }
        : { status: 503, type: 'application/json', body: JSON.stringify({ error: 'Down.', details: {} }) },
    );
  });
  after(() => gateway.close());

  test('an answer that says when to try again carries it on the error, in seconds; one that does not, null', async () => {
    const client = new GalleryClient({ baseUrl: gateway.url });
    const thrown = (promise) => promise.then(() => assert.fail('no error'), (error) => error);
    const busy = await thrown(client.galleries.get('busy'));
    assert.ok(busy instanceof GalleryApiError);
    assert.equal(busy.status, 409);
    assert.equal(busy.retryAfterSeconds, 2);
    assert.equal((await thrown(client.galleries.get('down'))).retryAfterSeconds, null);
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

/**
 * A fetch that records every call (method, URL, headers, body) and answers `answer(url, init)` as JSON
 * with an ETag, 200 unless said otherwise.
 * @param {(url: URL, init: RequestInit | undefined) => {body: unknown, status?: number, etag?: string}} answer
 */
function recordingFetch(answer = () => ({ body: { results: [], next: null, previous: null } })) {
  /** @type {{method: string, url: URL, headers: Record<string, string>, body: any}[]} */
  const sent = [];
  /** @type {typeof fetch} */
  const recording = async (input, init) => {
    const url = new URL(String(input));
    const body = init?.body;
    sent.push({
      method: init?.method ?? 'GET',
      url,
      headers: /** @type {Record<string, string>} */ (init?.headers ?? {}),
      body: typeof body === 'string' ? JSON.parse(body) : body,
    });
    const { body: json, status = 200, etag } = answer(url, init);
    const headers = { 'Content-Type': 'application/json', ...(etag ? { ETag: etag } : {}) };
    return new Response(JSON.stringify(json), { status, headers });
  };
  return { sent, recording };
}

/** @param {URL} url */
const queryOf = (url) => Object.fromEntries(url.searchParams);

describe('photo listings: ordering and tag search', () => {
  test('photos.list sends the ordering with the tag, page size and cursor', async () => {
    const { sent, recording } = recordingFetch();
    const client = new GalleryClient({ baseUrl: 'https://api.example.test/prod', fetch: recording });
    await client.photos.list('g 1', { tag: 'night', ordering: '-uploadedAt', pageSize: 5, cursor: 'c1' });
    await client.photos.list('g1');
    assert.deepEqual(
      sent.map(({ method, url }) => [method, url.pathname, queryOf(url)]),
      [
        [
          'GET',
          '/prod/api/galleries/g%201/photos',
          { tag: 'night', ordering: '-uploadedAt', page_size: '5', cursor: 'c1' },
        ],
        ['GET', '/prod/api/galleries/g1/photos', {}],
      ],
    );
  });

  test('photos.iterate asks for its ordering, then follows next as answered', async () => {
    const next = 'https://api.example.test/api/galleries/g/photos?cursor=p2&ordering=-averageRating';
    const { sent, recording } = recordingFetch((url) =>
      url.searchParams.get('cursor') === 'p2'
        ? { body: { results: [{ photoNumber: 1 }], next: null, previous: null } }
        : { body: { results: [{ photoNumber: 3 }], next, previous: null } },
    );
    const client = new GalleryClient({ baseUrl: 'https://api.example.test', fetch: recording });
    const numbers = [];
    for await (const photo of client.photos.iterate('g', { ordering: '-averageRating', pageSize: 1 })) {
      numbers.push(photo.photoNumber);
    }
    assert.deepEqual(numbers, [3, 1]);
    assert.deepEqual(queryOf(sent[0].url), { ordering: '-averageRating', page_size: '1' });
    assert.equal(sent[1].url.toString(), next);
  });

  test('galleries.get sends the ordering of its first page of photos', async () => {
    const { sent, recording } = recordingFetch(() => ({ body: { galleryId: 'g' } }));
    const client = new GalleryClient({ baseUrl: 'https://api.example.test', fetch: recording });
    await client.galleries.get('g', { ordering: 'takenAt' });
    await client.galleries.get('g');
    assert.deepEqual(
      sent.map(({ url }) => `${url.pathname}${url.search}`),
      ['/api/galleries/g?ordering=takenAt', '/api/galleries/g'],
    );
  });

  test('photos.search asks /api/photos for the tag; iterateSearch follows every page', async () => {
    const next = 'https://api.example.test/api/photos?tag=n%C3%BCit&cursor=p2';
    const { sent, recording } = recordingFetch((url) =>
      url.searchParams.get('cursor') === 'p2'
        ? { body: { results: [{ photoId: 'b' }], next: null, previous: null } }
        : { body: { results: [{ photoId: 'a' }], next, previous: null } },
    );
    const client = new GalleryClient({ baseUrl: 'https://api.example.test', curatorKey: 'k', fetch: recording });
    const page = await client.photos.search('nüit', { pageSize: 10, cursor: 'c0' });
    assert.deepEqual(page.results, [{ photoId: 'a' }]);
    assert.equal(sent[0].method, 'GET');
    assert.equal(sent[0].url.pathname, '/api/photos');
    assert.deepEqual(queryOf(sent[0].url), { tag: 'nüit', page_size: '10', cursor: 'c0' });
    assert.equal(sent[0].headers.Authorization, 'Bearer k'); // curators search every gallery
    const found = [];
    for await (const photo of client.photos.iterateSearch('nüit', { pageSize: 1 })) found.push(photo.photoId);
    assert.deepEqual(found, ['a', 'b']);
    assert.deepEqual(
      sent.slice(1).map(({ url }) => url.toString()),
      ['https://api.example.test/api/photos?tag=n%C3%BCit&page_size=1', next],
    );
  });
});

describe('photos.update', () => {
  test('PATCHes the changes as JSON with If-Match from the photo read, and keeps the new ETag', async () => {
    const { sent, recording } = recordingFetch((url, init) =>
      init?.method === 'PATCH'
        ? { body: { photoId: 'p', title: 'Dusk' }, etag: '"e2"' }
        : { body: { photoId: 'p', title: 'Lake' }, etag: '"e1"' },
    );
    const client = new GalleryClient({ baseUrl: 'https://api.example.test', curatorKey: 'k', fetch: recording });
    const read = await client.photos.get('g', 'p/1');
    const changes = { title: 'Dusk', tags: ['evening'], altText: 'A lake at dusk', description: '' };
    const edited = await client.photos.update('g', 'p/1', changes, { ifMatch: etagOf(read) });
    const patch = sent[1];
    assert.equal(patch.method, 'PATCH');
    assert.equal(patch.url.toString(), 'https://api.example.test/api/galleries/g/photos/p%2F1');
    assert.deepEqual(patch.body, changes);
    assert.equal(patch.headers['If-Match'], '"e1"');
    assert.equal(patch.headers['Content-Type'], 'application/json');
    assert.equal(patch.headers.Authorization, 'Bearer k');
    assert.equal(etagOf(edited), '"e2"');
  });

  test('without ifMatch sends no If-Match (the edit applies to the current photo)', async () => {
    const { sent, recording } = recordingFetch(() => ({ body: { photoId: 'p' } }));
    const client = new GalleryClient({ baseUrl: 'https://api.example.test', curatorKey: 'k', fetch: recording });
    await client.photos.update('g', 'p', { altText: '' });
    assert.equal(sent[0].method, 'PATCH');
    assert.deepEqual(sent[0].body, { altText: '' });
    assert.equal('If-Match' in sent[0].headers, false);
  });

  test('a 412 answer throws GalleryApiError with the envelope', async () => {
    const envelope = { error: 'The photo changed since it was read.', details: {} };
    const { recording } = recordingFetch(() => ({ body: envelope, status: 412 }));
    const client = new GalleryClient({ baseUrl: 'https://api.example.test', curatorKey: 'k', fetch: recording });
    await assert.rejects(
      client.photos.update('g', 'p', { title: 'x' }, { ifMatch: '"old"' }),
      (error) => error instanceof GalleryApiError && error.status === 412 && error.error === envelope.error,
    );
  });
});

describe('a gallery’s cover', () => {
  test('coverPhotoId goes in the body as sent, null included (the automatic cover again)', async () => {
    const { sent, recording } = recordingFetch(() => ({ body: { galleryId: 'g' } }));
    const client = new GalleryClient({ baseUrl: 'https://api.example.test', curatorKey: 'k', fetch: recording });
    await client.galleries.patch('g', { coverPhotoId: 'p3' }, { ifMatch: '"v4"' });
    await client.galleries.update('g', { coverPhotoId: null });
    assert.deepEqual(
      sent.map(({ method, url, body, headers }) => [method, url.pathname, body, headers['If-Match']]),
      [
        ['PATCH', '/api/galleries/g', { coverPhotoId: 'p3' }, '"v4"'],
        ['PUT', '/api/galleries/g', { coverPhotoId: null }, undefined],
      ],
    );
  });
});

describe('alt text on upload', () => {
  const file = (name, extra = {}) => ({ name, data: new Uint8Array(10), type: 'image/jpeg', ...extra });

  test('multipart: one altTexts JSON array aligned with the files, none when no file has one', async () => {
    const { sent, recording } = recordingFetch(() => ({ body: { photos: [], errors: [] }, status: 201 }));
    const client = new GalleryClient({ baseUrl: 'https://api.example.test', curatorKey: 'k', fetch: recording });
    await client.photos.upload('g', [file('a.jpg'), file('b.jpg', { altText: 'A heron', title: 'Heron' })]);
    await client.photos.upload('g', [file('c.jpg', { title: 'C' })]);
    const [withAlt, without] = sent.map((call) => /** @type {FormData} */ (call.body));
    assert.equal(sent[0].method, 'POST');
    assert.equal(sent[0].url.pathname, '/api/galleries/g/photos');
    assert.deepEqual(JSON.parse(String(withAlt.get('altTexts'))), ['', 'A heron']);
    assert.deepEqual(JSON.parse(String(withAlt.get('titles'))), ['', 'Heron']);
    assert.equal(withAlt.getAll('photos').length, 2);
    assert.equal(without.has('altTexts'), false);
  });

  /** A fetch answering slots (one per file), S3 posts and the completion, recording every call. */
  const slotsFetch = () =>
    recordingFetch((url, init) => {
      if (url.pathname.endsWith('/uploads')) {
        const { files } = JSON.parse(String(init?.body));
        const uploads = files.map((/** @type {any} */ _f, /** @type {number} */ at) => ({
          uploadKey: `uploads/g/${at}`,
          url: 'https://s3.example.test/bucket',
          fields: { key: `k${at}` },
          maxBytes: 100,
        }));
        return { body: { uploads }, status: 201 };
      }
      if (url.host === 's3.example.test') return { body: {}, status: 201 }; // S3 says 204, with no body
      return { body: { photos: [], errors: [] }, status: 201 };
    });

  test('straight to S3: the slots carry each photo’s metadata (S3’s event makes the photo with it)', async () => {
    const { sent, recording } = slotsFetch();
    const client = new GalleryClient({ baseUrl: 'https://api.example.test', curatorKey: 'k', fetch: recording });
    const batch = [file('a.jpg', { title: 'Reeds', tags: ['fog'], altText: 'Reeds in fog' }), file('b.jpg')];
    await client.photos.upload('g', batch, { directUploadThreshold: 1, keepDuplicate: true });
    assert.equal(sent[0].url.pathname, '/api/galleries/g/uploads');
    assert.deepEqual(sent[0].body, {
      files: [
        { contentType: 'image/jpeg', filename: 'a.jpg', title: 'Reeds', tags: ['fog'], altText: 'Reeds in fog' },
        { contentType: 'image/jpeg', filename: 'b.jpg' },
      ],
      keepDuplicate: true,
    });
    // The completion still follows by default, with the same metadata (nothing to change on the photo).
    assert.equal(sent.at(-1)?.url.pathname, '/api/galleries/g/photos/from-uploads');
    assert.deepEqual(sent.at(-1)?.body.uploads[0], {
      uploadKey: 'uploads/g/0',
      filename: 'a.jpg',
      title: 'Reeds',
      tags: ['fog'],
      altText: 'Reeds in fog',
    });
  });

  test('sendDirect posts the files to S3 and makes no completion call', async () => {
    const { sent, recording } = slotsFetch();
    const client = new GalleryClient({ baseUrl: 'https://api.example.test', curatorKey: 'k', fetch: recording });
    const small = file('a.jpg', { title: 'Reeds' }); // small files too: no threshold applies
    const keys = await client.photos.sendDirect('g', [small, file('b.jpg')]);
    assert.deepEqual(keys, [
      { uploadKey: 'uploads/g/0', filename: 'a.jpg' },
      { uploadKey: 'uploads/g/1', filename: 'b.jpg' },
    ]);
    assert.deepEqual(
      sent.map(({ method, url }) => [method, url.host, url.pathname]),
      [
        ['POST', 'api.example.test', '/api/galleries/g/uploads'],
        ['POST', 's3.example.test', '/bucket'],
        ['POST', 's3.example.test', '/bucket'],
      ],
    );
    assert.deepEqual(sent[0].body.files[0], { contentType: 'image/jpeg', filename: 'a.jpg', title: 'Reeds' });
    assert.equal('keepDuplicate' in sent[0].body, false);
  });

  test('straight to S3: each upload of from-uploads carries its own altText', async () => {
    const { sent, recording } = recordingFetch((url, init) => {
      if (url.pathname.endsWith('/uploads')) {
        const { files } = JSON.parse(String(init?.body));
        const uploads = files.map((/** @type {any} */ _f, /** @type {number} */ at) => ({
          uploadKey: `uploads/g/${at}`,
          url: 'https://s3.example.test/bucket',
          fields: { key: `k${at}` },
          maxBytes: 100,
        }));
        return { body: { uploads }, status: 201 };
      }
      return { body: { photos: [], errors: [] }, status: 201 };
    });
    const client = new GalleryClient({ baseUrl: 'https://api.example.test', curatorKey: 'k', fetch: recording });
    const batch = [file('a.jpg', { altText: 'Reeds in fog' }), file('b.jpg')];
    await client.photos.upload('g', batch, { directUploadThreshold: 1 });
    const complete = sent.at(-1);
    assert.equal(complete?.url.pathname, '/api/galleries/g/photos/from-uploads');
    assert.deepEqual(complete?.body, {
      uploads: [
        { uploadKey: 'uploads/g/0', filename: 'a.jpg', altText: 'Reeds in fog' },
        { uploadKey: 'uploads/g/1', filename: 'b.jpg' },
      ],
      keepDuplicate: false,
    });
  });
});
