'use strict';
/*
 * s3rver as `make run` and the tests start it, with what its own command line cannot do: S3's
 * object-created notifications (s3rver emits them only to a program that runs it, README "Event:
 * 'event'"). Started as `node --require s3rver_store_lock.js s3rver_events.js -d DIR -a ADDRESS -p PORT
 * [-s] [--events FOLDER]`: the first options are s3rver's own, with the meaning its CLI gives them.
 *
 * With --events, every ObjectCreated record (Put, Post, Copy, CompleteMultipartUpload) is written into
 * FOLDER as one file holding an S3 event of that one record, as S3 sends it to a Lambda function: the
 * object's key URL-encoded (s3rver gives it plain; S3 encodes it, spaces as '+', slashes kept). A file is written
 * whole under a temporary name and then renamed, so a reader never sees half of one; names sort in the
 * order the events came. devtools/local_services/s3_events.py hands each file to the function S3 calls
 * on AWS and removes it once handled.
 */

const fs = require('fs');
const path = require('path');
const S3rver = require('s3rver');

function option(names, fallback) {
  const at = process.argv.findIndex((argument) => names.includes(argument));
  return at === -1 ? fallback : process.argv[at + 1];
}

const directory = option(['-d', '--directory']);
const address = option(['-a', '--address'], '127.0.0.1');
const port = Number(option(['-p', '--port'], '4568'));
const silent = process.argv.includes('-s') || process.argv.includes('--silent');
const eventsFolder = option(['--events'], null);

if (!directory) {
  console.error('usage: s3rver_events.js -d DIR [-a ADDRESS] [-p PORT] [-s] [--events FOLDER]');
  process.exit(2);
}

let written = 0;

function record(event) {
  for (const item of event.Records || []) {
    if (!String(item.eventName || '').startsWith('ObjectCreated')) {
      continue;
    }
    const object = item.s3.object;
    const key = encodeURIComponent(object.key).replace(/%20/g, '+').replace(/%2F/g, '/');
    const encoded = { ...item, s3: { ...item.s3, object: { ...object, key } } };
    written += 1;
    const name = `${String(Date.now()).padStart(15, '0')}-${process.pid}-${String(written).padStart(9, '0')}`;
    fs.mkdirSync(eventsFolder, { recursive: true }); // again: someone may have emptied it by removing it
    const temporary = path.join(eventsFolder, `.${name}.tmp`);
    fs.writeFileSync(temporary, JSON.stringify({ Records: [encoded] }));
    fs.renameSync(temporary, path.join(eventsFolder, `${name}.json`));
  }
}

fs.mkdirSync(directory, { recursive: true });
const server = new S3rver({ directory, address, port, silent });
if (eventsFolder) {
  fs.mkdirSync(eventsFolder, { recursive: true });
  server.on('event', (event) => {
    try {
      record(event);
    } catch (error) {
      // The object is stored either way; the photos scan finds what no event announced.
      console.error('could not write an S3 event:', error);
    }
  });
}

server.run().then(
  (listening) => console.log(`s3rver listening on ${listening.address}:${listening.port}`),
  (error) => {
    console.error(error);
    process.exit(1);
  },
);

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => {
    server.close().finally(() => process.exit(0));
  });
}
