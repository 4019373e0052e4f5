// The client end to end against a served API: a gallery, photos by multipart and straight to S3,
// listings in each order, the tag search, the renditions a page loads, a visitor's ratings with the
// token, scans, conditional edits of galleries and photos, errors, deletes.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';

import { GalleryApiError, GalleryClient, etagOf } from '../src/index.js';
import { apiUrl, curatorKey, liveFetch, sample, skipWithoutServer } from './live.js';

// Small, so the samples (8-161 KB real camera JPEGs) exercise both routes; the default's choice is unit-tested.
const THRESHOLD = 150 * 1024;

/** A client whose calls are recorded as "METHOD path" (the host too when it is not the API's). */
function recordingClient(options) {
  const calls = [];
  const client = new GalleryClient({
    baseUrl: apiUrl,
    directUploadThreshold: THRESHOLD,
    fetch: (url, init) => {
      const { origin, pathname } = new URL(url);
      calls.push(`${init?.method ?? 'GET'} ${origin === new URL(apiUrl).origin ? pathname : 'S3'}`);
      return liveFetch(url, init);
    },
    ...options,
  });
  return { client, calls };
}

/** @param {() => Promise<unknown>} call */
async function failure(call) {
  try {
    await call();
  } catch (error) {
    assert.ok(error instanceof GalleryApiError, `not a GalleryApiError: ${error}`);
    return error;
  }
  assert.fail('the call did not throw');
}

const bytesOf = (name) => readFile(sample(name));

describe('the client against the served API', { skip: skipWithoutServer }, () => {
  const { client: curator, calls } = recordingClient({ curatorKey });
  const visitor = new GalleryClient({ baseUrl: apiUrl, fetch: liveFetch });
  let gallery;
  /** @type {any[]} */
  const stored = [];
  // A tag no other gallery of the server has: the search finds this gallery's photo alone.
  const searchTag = `js-${randomUUID().slice(0, 8)}`;

  before(async () => {
    gallery = await curator.galleries.create({
      name: `JS client ${randomUUID().slice(0, 8)}`,
      continent: 'north america',
      country: 'Canada',
      years: [2024],
    });
  });

  after(async () => {
    if (gallery) await curator.galleries.delete(gallery.galleryId).catch(() => {});
  });

  test('creates a gallery: private until published, the continent canonical, an ETag', async () => {
    assert.match(gallery.galleryId, /^[0-9a-f]{32}$/);
    assert.equal(gallery.continent, 'North America');
    assert.deepEqual(gallery.years, [2024]);
    assert.equal(gallery.photoCount, 0);
    assert.match(etagOf(gallery), /^"v\d+"$/);
    assert.equal(gallery.visibility, 'private');
    assert.equal((await failure(() => visitor.galleries.get(gallery.galleryId))).status, 404);
    gallery = await curator.galleries.publish(gallery.galleryId, { ifMatch: etagOf(gallery) });
    assert.equal(gallery.visibility, 'public');
    assert.equal((await visitor.galleries.get(gallery.galleryId)).galleryId, gallery.galleryId);
  });

  test('uploads a small photo in one multipart request', async () => {
    calls.length = 0;
    const data = await bytesOf('cameras/Canon_40D.jpg');
    const answer = await curator.photos.upload(gallery.galleryId, [
      {
        name: 'Canon_40D.jpg',
        data,
        type: 'image/jpeg',
        title: 'Lake',
        altText: 'A lake under low cloud',
        tags: ['Water', 'canon'],
      },
    ]);
    assert.deepEqual(calls, [`POST /api/galleries/${gallery.galleryId}/photos`]);
    assert.deepEqual(answer.errors, []);
    const [photo] = answer.photos;
    assert.equal(photo.title, 'Lake');
    assert.equal(photo.altText, 'A lake under low cloud');
    assert.deepEqual(photo.tags, ['water', 'canon']);
    assert.equal(photo.photoNumber, 1);
    assert.equal(photo.exifData.make, 'Canon'); // the camera's own EXIF, read by the service
    stored.push(photo);
  });

  test('uploads a photo above the threshold straight to S3, bytes intact', async () => {
    calls.length = 0;
    const data = await bytesOf('cameras/Nikon_COOLPIX_P6000_gps.jpg');
    assert.ok(data.length > THRESHOLD);
    const file = new File([data], 'Nikon_COOLPIX_P6000_gps.jpg', { type: 'image/jpeg' });
    const answer = await curator.photos.upload(gallery.galleryId, [file]);
    assert.deepEqual(calls, [
      `POST /api/galleries/${gallery.galleryId}/uploads`,
      'POST S3',
      `POST /api/galleries/${gallery.galleryId}/photos/from-uploads`,
    ]);
    const [photo] = answer.photos;
    assert.equal(photo.title, 'Nikon_COOLPIX_P6000_gps');
    assert.equal(photo.exifData.make, 'NIKON');
    // The curator's originalURL is a signed URL of the original: the very bytes sent.
    const original = await fetch(photo.originalURL);
    assert.equal(original.status, 200);
    assert.deepEqual(Buffer.from(await original.arrayBuffer()), data);
    stored.push(photo);
  });

  test('sends a batch of small files straight to S3 when their total is above the threshold', async () => {
    calls.length = 0;
    const names = ['orientation/landscape_6.jpg', 'orientation/portrait_3.jpg'];
    const files = await Promise.all(
      names.map(async (name) => ({ name: name.split('/')[1], data: await bytesOf(name), altText: '' })),
    );
    files[1].altText = 'A tall view';
    assert.ok(files.every((file) => file.data.length <= THRESHOLD));
    assert.ok(files[0].data.length + files[1].data.length > THRESHOLD);
    const answer = await curator.photos.upload(gallery.galleryId, files);
    assert.deepEqual(calls, [
      `POST /api/galleries/${gallery.galleryId}/uploads`,
      'POST S3',
      'POST S3',
      `POST /api/galleries/${gallery.galleryId}/photos/from-uploads`,
    ]);
    assert.deepEqual(
      answer.photos.map((photo) => [photo.title, photo.photoNumber]),
      [
        ['landscape_6', 3],
        ['portrait_3', 4],
      ],
    );
    assert.deepEqual(
      answer.photos.map((photo) => photo.altText),
      ['', 'A tall view'],
    );
    // Orientation applied: the landscape scene comes out wider than tall, the portrait one taller.
    assert.ok(answer.photos[0].width > answer.photos[0].height);
    assert.ok(answer.photos[1].width < answer.photos[1].height);
    stored.push(...answer.photos);
  });

  test('lists a page, iterates every photo across pages, and the renditions load', async () => {
    const page = await visitor.photos.list(gallery.galleryId, { pageSize: 3 });
    assert.equal(page.results.length, 3);
    assert.match(page.next, /cursor=/);
    const numbers = [];
    for await (const photo of visitor.photos.iterate(gallery.galleryId, { pageSize: 3 }))
      numbers.push(photo.photoNumber);
    assert.deepEqual(numbers, [1, 2, 3, 4]);
    const tagged = [];
    for await (const photo of visitor.photos.iterate(gallery.galleryId, { tag: 'water' }))
      tagged.push(photo.photoId);
    assert.deepEqual(tagged, [stored[0].photoId]);
    const thumbnail = await fetch(page.results[0].thumbnailURL);
    assert.equal(thumbnail.headers.get('content-type'), 'image/jpeg');
    const read = await visitor.galleries.get(gallery.galleryId);
    assert.equal(read.photoCount, 4);
    assert.deepEqual(read.years, [2008, 2024]); // the Canon's year joins the curator's
    const found = [];
    for await (const each of visitor.galleries.iterate({ continent: 'North America', pageSize: 1 })) {
      if (each.galleryId === gallery.galleryId) found.push(each);
    }
    assert.equal(found.length, 1);
  });

  test('lists in another ordering: -uploadedAt newest first, across pages and in the gallery read', async () => {
    const page = await visitor.photos.list(gallery.galleryId, { ordering: '-uploadedAt' });
    const numbers = page.results.map((photo) => photo.photoNumber);
    // Newest first: photo 1 and 2 were uploaded one request each, before the batch of 3 and 4, whose
    // files are stored in parallel and so take their upload times in either order.
    assert.deepEqual([numbers.slice(0, 2).sort(), numbers.slice(2)], [[3, 4], [2, 1]]);
    const times = page.results.map((photo) => photo.uploadedAt);
    assert.deepEqual(times, [...times].sort().reverse());
    const iterated = [];
    const newest = { ordering: /** @type {const} */ ('-uploadedAt'), pageSize: 3 };
    for await (const photo of visitor.photos.iterate(gallery.galleryId, newest)) iterated.push(photo.photoNumber);
    assert.deepEqual(iterated, numbers);
    const read = await visitor.galleries.get(gallery.galleryId, { ordering: '-uploadedAt' });
    assert.deepEqual(
      read.photos.results.map((photo) => photo.photoNumber),
      numbers,
    );
    const unknown = await failure(() =>
      visitor.photos.list(gallery.galleryId, { ordering: /** @type {any} */ ('name') }),
    );
    assert.equal(unknown.status, 400);
    assert.ok('ordering' in unknown.details, JSON.stringify(unknown.details));
  });

  test('edits a photo with If-Match: the ETag read applies, then is stale (412); the fresh one applies', async () => {
    const { photoId } = stored[0];
    const read = await curator.photos.get(gallery.galleryId, photoId);
    assert.match(etagOf(read), /\S/);
    const edited = await curator.photos.update(
      gallery.galleryId,
      photoId,
      { title: 'Lake at dusk', altText: 'A lake at dusk under low cloud' },
      { ifMatch: etagOf(read) },
    );
    assert.deepEqual([edited.title, edited.altText], ['Lake at dusk', 'A lake at dusk under low cloud']);
    assert.notEqual(etagOf(edited), etagOf(read));

    const stale = await failure(() =>
      curator.photos.update(gallery.galleryId, photoId, { title: 'Late' }, { ifMatch: etagOf(read) }),
    );
    assert.equal(stale.status, 412);
    assert.deepEqual(Object.keys(stale.body), ['error', 'details']);
    assert.equal((await visitor.photos.get(gallery.galleryId, photoId)).title, 'Lake at dusk');

    const fresh = await curator.photos.update(
      gallery.galleryId,
      photoId,
      { tags: ['Water', 'canon', searchTag] },
      { ifMatch: etagOf(edited) },
    );
    assert.deepEqual(fresh.tags, ['water', 'canon', searchTag]);
    assert.equal(fresh.title, 'Lake at dusk'); // a field left out stays
  });

  test('finds a photo by its tag across galleries', async () => {
    const page = await visitor.photos.search(searchTag);
    assert.deepEqual(
      page.results.map((photo) => [photo.galleryId, photo.photoId, photo.title]),
      [[gallery.galleryId, stored[0].photoId, 'Lake at dusk']],
    );
    const found = [];
    for await (const photo of curator.photos.iterateSearch(searchTag.toUpperCase(), { pageSize: 1 }))
      found.push(photo.photoId);
    assert.deepEqual(found, [stored[0].photoId]);
    assert.deepEqual((await visitor.photos.search(`${searchTag}-none`)).results, []);
  });

  test('a photo answers its renditions for a <picture>: images, srcset, placeholder and colour', async () => {
    // The Nikon's 640 x 480: a 400 px rendition and its own size, in each format.
    const photo = await visitor.photos.get(gallery.galleryId, stored[1].photoId);
    const formats = [...new Set(photo.images.map((image) => image.format))];
    assert.deepEqual(formats.slice(0, 2), ['jpeg', 'webp']);
    for (const format of formats) {
      const images = photo.images.filter((image) => image.format === format);
      const widths = images.map((image) => image.width);
      assert.deepEqual(widths, [400, 640], `${format} widths ascending`);
      // srcset is the same files, each with its width.
      const srcset = /** @type {Record<string, string | undefined>} */ (photo.srcset)[format];
      assert.equal(srcset, images.map((image) => `${image.url} ${image.width}w`).join(', '));
    }
    assert.deepEqual([photo.width, photo.height], [640, 480]);
    assert.match(photo.dominantColor ?? '', /^#[0-9a-f]{6}$/);
    assert.ok(Buffer.from(photo.thumbhash ?? '', 'base64').length >= 5, `thumbhash ${photo.thumbhash}`);

    const [firstWebp] = photo.srcset.webp.split(', ');
    const [url, width] = firstWebp.split(' ');
    const loaded = await fetch(url);
    assert.equal(loaded.status, 200);
    assert.equal(loaded.headers.get('content-type'), 'image/webp');
    assert.match(loaded.headers.get('cache-control') ?? '', /\bimmutable\b/);
    assert.match(loaded.headers.get('cache-control') ?? '', /\bpublic\b/);
    const bytes = Buffer.from(await loaded.arrayBuffer());
    assert.equal(bytes.subarray(8, 12).toString('latin1'), 'WEBP');
    const image = photo.images.find((each) => each.url === url);
    assert.deepEqual([image?.format, `${image?.width}w`, image?.bytes], ['webp', width, bytes.length]);
  });

  test('a visitor rates: the first rating keeps the token, which re-rating and withdrawing send', async () => {
    const photoId = stored[0].photoId;
    const userId = `visitor-${randomUUID().slice(0, 8)}`;
    const first = await visitor.ratings.rate(photoId, userId, 4);
    assert.equal(first.rating, 4);
    assert.equal(typeof first.visitorToken, 'string');
    assert.equal(visitor.userId, userId);
    assert.equal(visitor.visitorToken, first.visitorToken);

    const again = await visitor.ratings.rate(photoId, userId, 5);
    assert.deepEqual([again.rating, again.ratingCount, again.averageRating], [5, 1, 5]);

    const stranger = new GalleryClient({ baseUrl: apiUrl, fetch: liveFetch }); // the same id, without its token
    const refused = await failure(() => stranger.ratings.rate(photoId, userId, 1));
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.body, {
      error: refused.error,
      details: { userId, reason: 'visitor_token_required' },
    });
    assert.deepEqual(refused.details, refused.body.details);

    assert.equal((await visitor.ratings.get(photoId, userId)).rating, 5);
    const summary = await visitor.ratings.summary(photoId);
    assert.deepEqual([summary.ratingCount, summary.averageRating, summary.ratingHistogram['5']], [1, 5, 1]);

    const withdrawn = await visitor.ratings.withdraw(photoId, userId);
    assert.deepEqual([withdrawn.rating, withdrawn.ratingCount], [null, 0]);
  });

  test('createVisitor hands out an id and token the client rates with', async () => {
    const fresh = new GalleryClient({ baseUrl: apiUrl, fetch: liveFetch });
    const { userId, visitorToken } = await fresh.ratings.createVisitor();
    assert.equal(fresh.visitorTokenOf(userId), visitorToken);
    const rated = await fresh.ratings.rate(stored[1].photoId, userId, 3);
    assert.equal(rated.rating, 3);
    // A later session restores the visitor from what it kept, and may change the rating.
    const later = new GalleryClient({ baseUrl: apiUrl, userId, visitorToken, fetch: liveFetch });
    assert.equal((await later.ratings.rate(stored[1].photoId, userId, 2)).rating, 2);
  });

  test('runs both scans over the gallery', async () => {
    const photos = await curator.scans.galleryPhotos({ galleryId: gallery.galleryId });
    assert.deepEqual([photos.scanned, photos.created, photos.removed, photos.complete], [4, 0, 0, true]);
    const galleries = await curator.scans.galleriesMetadata({ galleryId: gallery.galleryId, dryRun: true });
    assert.deepEqual([galleries.scanned, galleries.changed], [1, false]);
  });

  test('edits with If-Match: the version read applies, a stale one is 412 with the envelope', async () => {
    const read = await curator.galleries.get(gallery.galleryId);
    const edited = await curator.galleries.patch(
      gallery.galleryId,
      { description: 'Lakes' },
      { ifMatch: etagOf(read) },
    );
    assert.equal(edited.description, 'Lakes');
    const stale = await failure(() =>
      curator.galleries.update(gallery.galleryId, { name: 'Late' }, { ifMatch: etagOf(read) }),
    );
    assert.equal(stale.status, 412);
    assert.deepEqual(Object.keys(stale.body), ['error', 'details']);
    assert.equal(
      (await curator.galleries.update(gallery.galleryId, { name: 'Lakes of Canada' })).name,
      'Lakes of Canada',
    );
  });

  test('errors carry the envelope: a missing gallery 404, a visitor writing 401, a bad body 400', async () => {
    const missing = await failure(() => visitor.galleries.get('no-such-gallery'));
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.body, { error: missing.error, details: missing.details });
    assert.match(missing.error, /no-such-gallery/);
    assert.match(missing.requestId, /\S/);

    const anonymous = await failure(() =>
      visitor.galleries.create({ name: 'x', continent: 'Europe', country: 'France' }),
    );
    assert.equal(anonymous.status, 401);

    const invalid = await failure(() =>
      curator.galleries.create({ name: 'x', continent: 'Atlantis', country: 'France' }),
    );
    assert.equal(invalid.status, 400);
    assert.ok('continent' in invalid.details);
  });

  test('deletes a photo, then the gallery', async () => {
    const photo = stored.pop();
    assert.deepEqual(await curator.photos.delete(gallery.galleryId, photo.photoId), {
      galleryId: gallery.galleryId,
      photoId: photo.photoId,
      deleted: true,
    });
    assert.equal((await failure(() => visitor.photos.get(gallery.galleryId, photo.photoId))).status, 404);
    const deleted = await curator.galleries.delete(gallery.galleryId);
    assert.deepEqual(deleted, { galleryId: gallery.galleryId, deleted: true, photosDeleted: 3 });
    assert.equal((await failure(() => visitor.galleries.get(gallery.galleryId))).status, 404);
    gallery = null;
  });
});
