// The console's uploader (console/templates/console/gallery.html): a card's worth of photos, picked or
// dropped, sent one file per request through the API's own JavaScript client (clients/js/src/index.js,
// served as a static file), so the console takes the route any front end takes. A file one API request
// can hold goes to the API (`photos.upload`); a larger one straight to S3 through an upload slot
// (`photos.sendDirect`), then the API makes the photo (`from-uploads`). Two files at a time; each has its
// own progress bar and its own answer: a refused file shows the server's message and the others go on.
//
// Retries are safe: every write carries one `Idempotency-Key` per file, so a request retried after a
// lost answer is answered, not done twice. A transient failure (no connection, a stalled upload, 429,
// 5xx, a photo still being made) is tried again after `Retry-After` or a growing pause. A large file S3
// already has is made into a photo by S3's event whatever happens to the completion, so one whose
// completion keeps failing is said to be on its way, not lost. A sign-in that ended stops the queue.
//
// After each stored photo the grid is read again from the page itself (the server renders the cards,
// once), keeping the focus where it was. No build step: a plain ES module.

const AT_ONCE = 2;
const TRIES = 5;
const STALLED_MS = 120_000;
const TRANSIENT = new Set([0, 408, 429, 500, 502, 503, 504]);
const IN_PROGRESS = new Set(['upload_busy', 'idempotency_key_in_flight']);
const section = document.querySelector('[data-uploader]');

/** The CSRF token as the cookie has it now (a sign-in renews it), else as the page was rendered with. */
function csrfToken() {
  const cookie = document.cookie.split('; ').find((pair) => pair.startsWith('csrftoken='));
  return cookie ? decodeURIComponent(cookie.slice('csrftoken='.length)) : section.querySelector('input[name="csrfmiddlewaretoken"]').value;
}

/** A `fetch` over XMLHttpRequest, for what fetch cannot do: report how much of a body was sent. Writes to
 * this origin carry the CSRF token and the file's idempotency key; S3 gets neither, nor the cookie. An
 * upload that sends nothing for STALLED_MS is abandoned (and retried). */
function progressFetch({ idempotencyKey, onProgress }) {
  return (url, init = {}) =>
    new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      const method = init.method ?? 'GET';
      request.open(method, url);
      const headers = new Headers(init.headers ?? {});
      if (new URL(url, location.href).origin === location.origin && method !== 'GET') {
        headers.set('X-CSRFToken', csrfToken());
        headers.set('Idempotency-Key', idempotencyKey);
      }
      headers.forEach((value, name) => request.setRequestHeader(name, value));
      request.responseType = 'blob';
      let watchdog = 0;
      const watch = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => request.abort(), STALLED_MS);
      };
      if (init.body instanceof FormData) {
        request.upload.addEventListener('progress', (event) => {
          watch();
          if (event.lengthComputable) onProgress(event.loaded / event.total);
        });
      }
      request.addEventListener('load', () => {
        clearTimeout(watchdog);
        const answerHeaders = new Headers();
        for (const line of request.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
          const at = line.indexOf(':');
          if (at > 0) answerHeaders.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
        }
        const empty = [101, 204, 205, 304].includes(request.status);
        resolve(new Response(empty ? null : request.response, { status: request.status, headers: answerHeaders }));
      });
      request.addEventListener('error', () => {
        clearTimeout(watchdog);
        reject(new TypeError('The connection failed.'));
      });
      request.addEventListener('abort', () => reject(new TypeError('The upload stalled.')));
      watch();
      request.send(init.body ?? null);
    });
}

/** Whether a failure may pass if tried again, and after how many milliseconds. */
function retryAfter(error, attempt) {
  const status = typeof error?.status === 'number' ? error.status : 0;
  const code = error?.details?.code ?? error?.details?.files?.[0]?.code;
  const transient = error instanceof TypeError || TRANSIENT.has(status) || (status === 409 && IN_PROGRESS.has(code));
  if (!transient || attempt >= TRIES) return null;
  const told = error?.retryAfterSeconds; // the answer's Retry-After (429, 503, a key still in flight)
  return (typeof told === 'number' && told > 0 ? told : 2 ** attempt) * 1000;
}

async function withRetries(work) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      const wait = retryAfter(error, attempt);
      if (wait === null) throw error;
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

/** What the server said about a file it refused (its sentence for that file), or why the request did
 * not reach it. */
function refusalOf(error) {
  const files = error?.details?.files;
  if (Array.isArray(files) && files[0]?.error) return files[0].error;
  if (typeof error?.error === 'string') return error.error;
  return error instanceof Error ? error.message : String(error);
}

function sizeText(bytes) {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${Math.max(1, Math.round(bytes / 1e3))} KB`;
}

/** A file's line in the list: its name, size, progress bar and what became of it. */
function fileRow(list, file) {
  const row = document.createElement('li');
  row.className = 'upload-file';
  const name = document.createElement('span');
  name.className = 'upload-name';
  name.textContent = `${file.name} (${sizeText(file.size)})`;
  const bar = document.createElement('progress');
  bar.max = 1;
  bar.value = 0;
  bar.setAttribute('aria-label', `${file.name} sent`);
  const state = document.createElement('span');
  state.className = 'upload-state';
  state.textContent = 'Waiting';
  row.append(name, bar, state);
  list.append(row);
  return {
    progress(fraction) {
      bar.value = fraction;
      state.textContent = fraction < 1 ? `Sending, ${Math.round(fraction * 100)}%` : 'Making the photo';
    },
    done(text) {
      bar.value = 1;
      row.classList.add('upload-done');
      state.textContent = text;
    },
    failed(text) {
      row.classList.add('upload-failed');
      state.textContent = `Not added: ${text}`;
    },
  };
}

/** Where the focus is inside the grid, as a selector that finds the same control in a new copy of it. */
function focusedControl(container) {
  const active = document.activeElement;
  if (!container || !active || !container.contains(active)) return null;
  const href = active.getAttribute('href');
  if (href) return `[href="${CSS.escape(href)}"]`;
  const action = active.closest('form')?.getAttribute('action');
  return action ? `form[action="${CSS.escape(action)}"] button` : null;
}

/** The grid and the gallery's count, read again from this page as the server renders it now. */
async function refreshGrid() {
  const response = await fetch(location.href, { headers: { Accept: 'text/html' }, credentials: 'same-origin' });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), 'text/html');
  const focus = focusedControl(document.querySelector('[data-photos]'));
  for (const selector of ['[data-photos]', '.place']) {
    const now = document.querySelector(selector);
    const then = fresh.querySelector(selector);
    if (now && then) now.replaceWith(document.adoptNode(then));
  }
  if (focus) document.querySelector(`[data-photos] ${focus}`)?.focus();
}

/** At most one refresh at a time, and one more after it when photos were stored meanwhile. */
function refresher() {
  let running = null;
  let again = false;
  const run = async () => {
    do {
      again = false;
      try {
        await refreshGrid();
      } catch {
        // the next stored photo refreshes again
      }
    } while (again);
    running = null;
  };
  return () => {
    if (running) again = true;
    else running = run();
  };
}

async function start() {
  const { GalleryClient, DEFAULT_DIRECT_UPLOAD_THRESHOLD } = await import(section.dataset.client);
  const galleryId = section.dataset.galleryId;
  const baseUrl = new URL(section.dataset.base, location.href).href;
  const maxBytes = Number(section.dataset.maxBytes);
  const input = section.querySelector('input[type="file"]');
  const zone = section.querySelector('.drop');
  const list = section.querySelector('.uploads');
  const summary = section.querySelector('.upload-summary');
  const signIn = section.querySelector('.upload-sign-in');
  const refresh = refresher();
  const waiting = [];
  const counts = { added: 0, already: 0, refused: 0 };
  let running = 0;
  let lastRefusal = '';
  let signedOut = false;

  const tell = () => {
    const left = waiting.length + running;
    const already = counts.already ? `, ${counts.already} already here` : '';
    const refused = counts.refused ? `, ${counts.refused} not added` : '';
    const why = lastRefusal ? ` (${lastRefusal})` : '';
    summary.textContent =
      `${counts.added} added${already}${refused}${why}` + (left ? `, ${left} still going.` : '. All done.');
  };
  const refuse = (row, file, text) => {
    counts.refused += 1;
    lastRefusal = `${file.name}: ${text.replace(/\.$/, '')}`;
    row.failed(text);
  };

  const store = async (client, file) => {
    if (file.size <= DEFAULT_DIRECT_UPLOAD_THRESHOLD) {
      return withRetries(() => client.photos.upload(galleryId, [file]));
    }
    const [sent] = await withRetries(() => client.photos.sendDirect(galleryId, [file]));
    const uploads = [{ uploadKey: sent.uploadKey, filename: file.name }];
    const path = `/api/galleries/${encodeURIComponent(galleryId)}/photos/from-uploads`;
    try {
      return await withRetries(() => client.request('POST', path, { json: { uploads } }));
    } catch (error) {
      if (retryAfter(error, 0) === null) throw error;
      return { photos: [], onItsWay: true }; // S3 has the file: its event makes the photo
    }
  };

  const send = async ({ file, row }) => {
    if (signedOut) {
      refuse(row, file, 'not sent, your sign-in ended.');
      return;
    }
    const idempotencyKey = crypto.randomUUID();
    const client = new GalleryClient({ baseUrl, fetch: progressFetch({ idempotencyKey, onProgress: row.progress }) });
    try {
      const answer = await store(client, file);
      const [photo] = answer.photos;
      if (answer.onItsWay) {
        counts.added += 1;
        row.done('Sent; it will appear in a moment');
        setTimeout(refresh, 10_000);
      } else if (!photo) {
        refuse(row, file, answer.errors?.[0]?.error ?? 'refused.');
      } else if (photo.duplicateOf) {
        counts.already += 1;
        row.done(`Already here as No. ${photo.photoNumber}`);
      } else {
        counts.added += 1;
        row.done(`Added as No. ${photo.photoNumber}`);
        refresh();
      }
    } catch (error) {
      const fromHere = typeof error?.url === 'string' && new URL(error.url, location.href).origin === location.origin;
      if (fromHere && (error.status === 401 || error.status === 403)) {
        signedOut = true;
        signIn.hidden = false;
      }
      refuse(row, file, refusalOf(error));
    }
  };

  const pump = () => {
    while (running < AT_ONCE && waiting.length) {
      running += 1;
      send(waiting.shift()).finally(() => {
        running -= 1;
        tell();
        pump();
      });
    }
    tell();
  };

  const take = (files) => {
    for (const file of files) {
      const row = fileRow(list, file);
      if (file.size === 0) refuse(row, file, 'the file is empty (or a folder).');
      else if (file.size > maxBytes) refuse(row, file, `it has ${sizeText(file.size)}; at most ${sizeText(maxBytes)} is taken.`);
      else waiting.push({ file, row });
    }
    pump();
  };

  input.addEventListener('change', () => {
    take([...input.files]);
    input.value = '';
  });
  // A file dropped anywhere on the page is not opened in its place (that would stop every upload).
  for (const name of ['dragover', 'drop']) document.addEventListener(name, (event) => event.preventDefault());
  for (const name of ['dragenter', 'dragover']) {
    zone.addEventListener(name, (event) => {
      event.preventDefault();
      zone.classList.add('drop-over');
    });
  }
  zone.addEventListener('dragleave', () => zone.classList.remove('drop-over'));
  zone.addEventListener('drop', (event) => {
    event.preventDefault();
    zone.classList.remove('drop-over');
    const files = [...(event.dataTransfer?.files ?? [])];
    if (files.length) take(files);
  });
  // Leaving the page while files are going asks first.
  window.addEventListener('beforeunload', (event) => {
    if (running || waiting.length) event.preventDefault();
  });
  section.classList.add('ready');
}

if (section) {
  start().catch(() => {
    section.querySelector('.upload-summary').textContent =
      'The uploader could not start: reload the page to add photos.';
  });
}
