// The customer's guide's own client, `GalleryAPI`, against the served API: the contract the guide shows
// keeps working. The class below is COPIED VERBATIM from ../shared/spec/photography-gallery-backend-guide.md
// ("Usage Examples" > "Frontend Integration" > "JavaScript API Client", lines 371-391); do not edit it. The
// first test compares it with the guide, character for character. The guide defines API_BASE_URL as its
// API Gateway URL and sends no curator key: here API_BASE_URL is the served API, and a wrapper of
// globalThis.fetch adds the key, as a page of the guide's would have to.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';

import { apiUrl, curatorKey, guidePath, sample, skipWithoutServer } from './live.js';

const API_BASE_URL = apiUrl;

// prettier-ignore
class GalleryAPI {
  async createGallery(galleryData) {
    const response = await fetch(`${API_BASE_URL}/galleries`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(galleryData)
    });
    return response.json();
  }

  async uploadPhotos(galleryId, formData) {
    const response = await fetch(
      `${API_BASE_URL}/galleries?action=upload_photos&id=${galleryId}`,
      {
        method: 'POST',
        body: formData
      }
    );
    return response.json();
  }
}

/** The guide's `fetch`, as a page would wrap it: the curator key on every call. */
const unwrappedFetch = globalThis.fetch;
const fetchWithKey = (input, init = {}) =>
  unwrappedFetch(input, { ...init, headers: { ...init.headers, Authorization: `Bearer ${curatorKey}` } });

describe("the guide's GalleryAPI class against the served API", { skip: skipWithoutServer }, () => {
  const api = new GalleryAPI();
  let galleryId;

  before(() => {
    globalThis.fetch = fetchWithKey;
  });

  after(async () => {
    if (galleryId) await fetchWithKey(`${API_BASE_URL}/galleries?id=${galleryId}`, { method: 'DELETE' });
    globalThis.fetch = unwrappedFetch;
  });

  test('is the class of the guide, verbatim', async () => {
    const guide = await readFile(guidePath, 'utf8');
    const start = guide.indexOf('class GalleryAPI {');
    const end = guide.indexOf('\n}\n', start) + 2;
    assert.ok(start > 0, `no GalleryAPI class in ${guidePath}`);
    assert.equal(GalleryAPI.toString(), guide.slice(start, end));
  });

  test('createGallery, then uploadPhotos with a FormData of one photo', async () => {
    const gallery = await api.createGallery({
      name: `Guide ${randomUUID().slice(0, 8)}`,
      continent: 'Europe',
      country: 'France',
      description: 'Made by the guide’s own client',
      years: [2023, 2024],
    });
    galleryId = gallery.galleryId;
    assert.match(galleryId, /^[0-9a-f]{32}$/);
    assert.deepEqual(
      [gallery.name.startsWith('Guide'), gallery.years, gallery.photoCount],
      [true, [2023, 2024], 0],
    );

    const formData = new FormData();
    const bytes = await readFile(sample('cameras/Canon_PowerShot_S40.jpg'));
    formData.append('photos', new Blob([bytes], { type: 'image/jpeg' }), 'Canon_PowerShot_S40.jpg');
    formData.append('titles', 'Harbour');
    formData.append('tags', 'sea, boats');
    const uploaded = await api.uploadPhotos(galleryId, formData);
    assert.deepEqual(uploaded.errors, []);
    const [photo] = uploaded.photos;
    assert.deepEqual(
      [photo.galleryId, photo.title, photo.tags, photo.photoNumber],
      [galleryId, 'Harbour', ['sea', 'boats'], 1],
    );
    assert.equal(photo.exifData.make, 'Canon');

    // Stored: the guide's read of the gallery lists it.
    const read = await (await unwrappedFetch(`${API_BASE_URL}/galleries?id=${galleryId}`)).json();
    assert.equal(read.photoCount, 1);
    assert.deepEqual(
      read.photos.results.map((each) => each.photoId),
      [photo.photoId],
    );
  });

  test('never checks response.ok: without the key a create resolves to the error envelope', async () => {
    globalThis.fetch = unwrappedFetch;
    try {
      const answer = await api.createGallery({ name: 'No key', continent: 'Europe', country: 'France' });
      assert.equal(answer.galleryId, undefined); // why GalleryClient throws GalleryApiError instead
      assert.deepEqual(Object.keys(answer), ['error', 'details']);
    } finally {
      globalThis.fetch = fetchWithKey;
    }
  });
});
