// What the end-to-end tests need from their environment: the served API (tests/clients/test_js_client.py
// starts one and sets these), and the shared folder beside the project (its sample JPEGs and the guide).

import { appendFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export const apiUrl = process.env.GALLERY_API_URL ?? '';
export const curatorKey = process.env.GALLERY_CURATOR_KEY ?? '';

/** Skips a suite without a server (`npm test` alone runs the unit tests); the Python test counts skips. */
export const skipWithoutServer =
  apiUrl && curatorKey ? false : 'no server: set GALLERY_API_URL and GALLERY_CURATOR_KEY (see README)';

// ../shared beside the project root (clients/js/test -> the project -> its parent).
const sharedDir =
  process.env.GALLERY_SHARED_DIR ??
  path.resolve(fileURLToPath(new URL('.', import.meta.url)), '../../../../shared');

/** @param {string} name a path under shared/samples/exif */
export const sample = (name) => path.join(sharedDir, 'samples', 'exif', name);

export const guidePath = path.join(sharedDir, 'spec', 'photography-gallery-backend-guide.md');

const answersFile = process.env.GALLERY_ANSWERS_FILE;

/**
 * `fetch`, noting each JSON answer of the API in GALLERY_ANSWERS_FILE when it is set (one JSON line each:
 * method, path, status, body): tests/clients/test_js_client.py checks every one against the generated type
 * of its operation and status.
 * @param {string} url
 * @param {RequestInit} [init]
 */
export async function liveFetch(url, init) {
  const response = await fetch(url, init);
  const { origin, pathname } = new URL(url);
  if (answersFile && origin === new URL(apiUrl).origin && /json/.test(response.headers.get('content-type') ?? '')) {
    const body = await response.clone().json();
    const method = (init?.method ?? 'GET').toLowerCase();
    appendFileSync(answersFile, `${JSON.stringify({ method, path: pathname, status: response.status, body })}\n`);
  }
  return response;
}
