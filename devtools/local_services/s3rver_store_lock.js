'use strict';
/*
 * Preloaded into s3rver (`node --require <this file> node_modules/.bin/s3rver ...`, see
 * emulators.s3rver_command) so that an upload racing a delete cannot take it down.
 *
 * s3rver 3.x keeps each object as files in a directory per key prefix. Its filesystem store assumes
 * one request at a time per directory:
 *   - putObject runs `mkdirp(dir)` and then opens `dir/<name>._S3rver_object` with a write stream
 *     that has no 'error' listener;
 *   - deleteObject unlinks the object's files, then removes each parent directory that
 *     `readdirSync` finds empty.
 * A delete that empties `dir` between the put's mkdirp and its open makes the open fail with ENOENT,
 * an unhandled 'error' event, and the whole process exits. Worse, that put may have been answered 200
 * already: s3rver answers once the body is read and the md5 and metadata files are written, without
 * waiting for the object's own file, so restarting the process after such a crash would not bring that
 * upload back. The same races answer 500 to the losers (metadata written into a removed directory,
 * `readdirSync`/`rmdir` of a directory another delete removed first, a listing that stats a file being
 * unlinked).
 *
 * Here every step that creates, removes or walks a bucket's key directories runs under a per-bucket
 * async lock, so those steps never interleave, and a put is answered only once its files are written.
 * Request bodies are read into memory before the lock is taken (a slow upload holds nobody up; local
 * uploads are photos, megabytes) and written with promise-based calls, so a filesystem error fails that
 * one request instead of the process. Only s3rver's store is changed; nothing under node_modules is.
 */

const crypto = require('crypto');
const fsp = require('fs/promises');
const fs = require('fs');
const path = require('path');
const { createRequire } = require('module');

// Resolve s3rver's modules as the program being run resolves them (s3rver's own bin script, or
// s3rver_events.js beside this file), so these are the very modules it loads itself.
const s3rverPackage = require.resolve('s3rver/package.json', {
  paths: [path.dirname(fs.realpathSync(process.argv[1]))],
});
const s3rverRequire = createRequire(s3rverPackage);
const utils = s3rverRequire('./lib/utils');
const originalWalk = utils.walk;

/*
 * A listing walks the tree synchronously; it still sees files of multipart uploads (not locked) come
 * and go. An entry gone between readdir and stat is one that is no longer there: skip it. Replaced
 * before the store is loaded, since the store keeps its own reference to `walk`.
 */
function* tolerantWalk(dir, recurseFilter) {
  let names;
  try {
    names = fs.readdirSync(dir);
  } catch (err) {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return;
    throw err;
  }
  for (const name of names) {
    const filePath = path.posix.join(dir, name);
    let stats;
    try {
      stats = fs.statSync(filePath);
    } catch (err) {
      if (err.code === 'ENOENT') continue;
      throw err;
    }
    if (!stats.isDirectory()) {
      yield filePath;
    } else if (!recurseFilter || recurseFilter(filePath)) {
      yield* tolerantWalk(filePath, recurseFilter);
    }
  }
}

if (typeof originalWalk !== 'function') {
  throw new Error('s3rver_store_lock.js: s3rver/lib/utils has no walk(); written for s3rver 3.x');
}
utils.walk = tolerantWalk;

const FilesystemStore = s3rverRequire('./lib/stores/filesystem');
const store = FilesystemStore.prototype;
const REQUIRED = [
  'getBucketPath',
  'getResourcePath',
  'putMetadata',
  'putObject',
  'deleteObject',
  'copyObject',
  'listObjects',
  'getObject',
  'deleteBucket',
  'putPart',
  'putSubresource',
  'deleteSubresource',
];
const missing = REQUIRED.filter(name => typeof store[name] !== 'function');
if (missing.length) {
  throw new Error(
    `s3rver_store_lock.js: s3rver's FilesystemStore lacks ${missing.join(', ')}; written for s3rver 3.x`,
  );
}

// bucket name -> promise settled when the last operation queued on that bucket is done
const queues = new Map();

function lockBucket(bucket, operation) {
  const previous = queues.get(bucket) || Promise.resolve();
  const result = previous.then(operation);
  const done = result.then(
    () => undefined,
    () => undefined,
  );
  queues.set(bucket, done);
  done.then(() => {
    if (queues.get(bucket) === done) queues.delete(bucket);
  });
  return result;
}

/** Run `operation` holding the locks of all `buckets`, taken in name order so two copies cannot deadlock. */
function exclusive(buckets, operation) {
  const names = [...new Set(buckets)].sort();
  const run = (index) =>
    index === names.length ? operation() : lockBucket(names[index], () => run(index + 1));
  return run(0);
}

async function readAll(content) {
  if (Buffer.isBuffer(content)) return content;
  const chunks = [];
  // Rejects on a stream error or an aborted request, instead of leaving an unhandled 'error' event.
  for await (const chunk of content) chunks.push(Buffer.from(chunk));
  return Buffer.concat(chunks);
}

function md5Hex(buffer) {
  return crypto.createHash('md5').update(buffer).digest('hex');
}

function ignoreMissing(err) {
  if (err.code !== 'ENOENT') throw err;
}

store.putObject = async function putObject(object) {
  const content = await readAll(object.content);
  const md5 = md5Hex(content);
  const objectPath = this.getResourcePath(object.bucket, object.key, 'object');
  await exclusive([object.bucket], async () => {
    await fsp.mkdir(path.dirname(objectPath), { recursive: true });
    await fsp.writeFile(objectPath, content);
    await this.putMetadata(object.bucket, object.key, object.metadata, md5);
  });
  return { size: content.length, md5 };
};

store.deleteObject = function deleteObject(bucket, key) {
  return exclusive([bucket], async () => {
    await Promise.all(
      ['object', 'object.md5', 'metadata.json'].map(resource =>
        fsp.unlink(this.getResourcePath(bucket, key, resource)).catch(ignoreMissing),
      ),
    );
    // Remove the directories the key leaves empty, deepest first, as s3rver does; rmdir itself says
    // whether one is empty, and one already removed (the same key deleted twice) is no error.
    const bucketPath = this.getBucketPath(bucket);
    let dir = path.dirname(this.getResourcePath(bucket, key, 'object'));
    while (dir.startsWith(bucketPath + path.sep)) {
      try {
        await fsp.rmdir(dir);
      } catch (err) {
        if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST') break;
        ignoreMissing(err);
      }
      dir = path.dirname(dir);
    }
  });
};

store.putPart = async function putPart(bucket, uploadId, partNumber, content) {
  const body = await readAll(content);
  const md5 = md5Hex(body);
  const partPath = path.join(this.getResourcePath(bucket, undefined, 'uploads'), uploadId, String(partNumber));
  await fsp.mkdir(path.dirname(partPath), { recursive: true });
  await fsp.writeFile(partPath, body);
  await fsp.writeFile(`${partPath}.md5`, md5);
  return { size: body.length, md5 };
};

function underLock(name, bucketsOf) {
  const original = store[name];
  store[name] = function locked(...args) {
    return exclusive(bucketsOf(args), () => original.apply(this, args));
  };
}

underLock('copyObject', ([srcBucket, , destBucket]) => [srcBucket, destBucket]);
underLock('listObjects', ([bucket]) => [bucket]);
underLock('getObject', ([bucket]) => [bucket]);
underLock('deleteBucket', ([bucket]) => [bucket]);
underLock('putSubresource', ([bucket]) => [bucket]);
underLock('deleteSubresource', ([bucket]) => [bucket]);
