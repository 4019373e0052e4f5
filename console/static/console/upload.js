// The console's uploader (console/templates/console/gallery.html): a card's worth of photos, picked or
// dropped, sent one file per request through the API's own JavaScript client (clients/js/src/index.js,
// served as a static file), so the console takes the route any front end takes: a file the multipart
// request can hold goes to the API, a larger one straight to S3 through an upload slot, then the API
// makes the photo (`photos.upload`). Two files at a time; each has its own progress bar and its own
// answer: a refused file shows the server's message and the others go on. After each stored photo the
// grid is read again from the page itself (the server renders the cards, once).
//
// No build step: a plain ES module, loaded by the page with `<script type="module">`; the client is
// imported from the URL the page names (its content-hashed static name).

const AT_ONCE = 2;
const section = document.querySelector('[data-uploader]');

/** A `fetch` over XMLHttpRequest, for what fetch cannot do: report how much of a body was sent. */
function progressFetch({ csrfToken, onProgress }) {
  return (url, init = {}) =>
    new Promise((resolve, reject) => {
      const request = new XMLHttpRequest();
      request.open(init.method ?? 'GET', url);
      const sameOrigin = new URL(url, location.href).origin === location.origin;
      const headers = new Headers(init.headers ?? {});
      // The session's writes carry the CSRF token (the API's session authentication asks for it); S3
      // never gets it, nor the session's cookie.
      if (sameOrigin) headers.set('X-CSRFToken', csrfToken);
      headers.forEach((value, name) => request.setRequestHeader(name, value));
      request.responseType = 'blob';
      if (init.body instanceof FormData) {
        request.upload.addEventListener('progress', (event) => {
          if (event.lengthComputable) onProgress(event.loaded / event.total);
        });
      }
      request.addEventListener('load', () => {
        const answerHeaders = new Headers();
        for (const line of request.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
          const at = line.indexOf(':');
          if (at > 0) answerHeaders.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
        }
        const empty = [101, 204, 205, 304].includes(request.status);
        resolve(new Response(empty ? null : request.response, { status: request.status, headers: answerHeaders }));
      });
      request.addEventListener('error', () => reject(new TypeError('The connection failed.')));
      request.addEventListener('abort', () => reject(new TypeError('The upload was stopped.')));
      request.send(init.body ?? null);
    });
}

/** What the server said about a file it refused (the envelope's sentence for that file), or why the
 * request did not reach it. */
function refusalOf(error) {
  const files = error?.details?.files;
  if (Array.isArray(files) && files[0]?.error) return files[0].error;
  if (typeof error?.error === 'string') return error.error;
  return error instanceof Error ? error.message : String(error);
}

function sizeText(bytes) {
  return bytes >= 1024 * 1024 ? `${(bytes / (1024 * 1024)).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
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

/** The grid and the gallery's count, read again from this page as the server renders it now. */
async function refreshGrid() {
  const response = await fetch(location.href, { headers: { Accept: 'text/html' }, credentials: 'same-origin' });
  if (!response.ok) return;
  const fresh = new DOMParser().parseFromString(await response.text(), 'text/html');
  for (const selector of ['[data-photos]', '.place']) {
    const now = document.querySelector(selector);
    const then = fresh.querySelector(selector);
    if (now && then) now.replaceWith(document.adoptNode(then));
  }
}

async function start() {
  const { GalleryClient } = await import(section.dataset.client);
  const galleryId = section.dataset.galleryId;
  const baseUrl = new URL(section.dataset.base, location.href).href;
  const csrfToken = section.querySelector('input[name="csrfmiddlewaretoken"]').value;
  const input = section.querySelector('input[type="file"]');
  const zone = section.querySelector('.drop');
  const list = section.querySelector('.uploads');
  const summary = section.querySelector('.upload-summary');
  const waiting = [];
  let running = 0;
  let added = 0;
  let refused = 0;
  let refreshing = Promise.resolve();

  const tell = () => {
    const left = waiting.length + running;
    summary.textContent =
      `${added} added, ${refused} not added` + (left ? `, ${left} still going.` : '. All done.');
  };

  const send = async ({ file, row }) => {
    const client = new GalleryClient({ baseUrl, fetch: progressFetch({ csrfToken, onProgress: row.progress }) });
    try {
      const answer = await client.photos.upload(galleryId, [file]);
      const [photo] = answer.photos;
      if (!photo) {
        refused += 1;
        row.failed(answer.errors?.[0]?.error ?? 'refused.');
        return;
      }
      added += 1;
      row.done(photo.duplicateOf ? `Already here as No. ${photo.photoNumber}` : `Added as No. ${photo.photoNumber}`);
      refreshing = refreshing.then(refreshGrid, refreshGrid);
    } catch (error) {
      refused += 1;
      row.failed(refusalOf(error));
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
    for (const file of files) waiting.push({ file, row: fileRow(list, file) });
    pump();
  };

  input.addEventListener('change', () => {
    take([...input.files]);
    input.value = '';
  });
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
    take([...event.dataTransfer.files]);
  });
  section.classList.add('ready');
}

if (section) start();
