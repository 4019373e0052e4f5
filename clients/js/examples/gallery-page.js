// The README's example of a gallery page, its lines in a function given the list element: `npm run
// typecheck` checks them against the generated types.
import { GalleryClient } from '@gallery/client';

/**
 * @param {string} galleryId
 * @param {HTMLElement} list
 */
export async function renderGallery(galleryId, list) {
  const client = new GalleryClient({ baseUrl: 'https://api.example.com/prod' });
  for await (const photo of client.photos.iterate(galleryId)) {
    // The browser takes the first <source> whose type it shows (AVIF where enabled, then WebP), else the
    // <img>'s JPEG, and picks a width from that srcset for `sizes`.
    const sizes = '(max-width: 800px) 100vw, 33vw';
    const picture = document.createElement('picture');
    for (const [type, srcset] of [['image/avif', photo.srcset.avif], ['image/webp', photo.srcset.webp]]) {
      if (srcset) picture.append(Object.assign(document.createElement('source'), { type, srcset, sizes }));
    }
    const img = Object.assign(document.createElement('img'), {
      src: photo.thumbnailURL ?? '', srcset: photo.srcset.jpeg, sizes,
      alt: photo.altText || photo.title, loading: 'lazy',
    });
    // width/height give the box its shape before a byte arrives (with CSS `width: 100%; height: auto`);
    // the dominant colour fills it meanwhile (or paint `photo.thumbhash`: see the README).
    if (photo.width && photo.height) Object.assign(img, { width: photo.width, height: photo.height });
    img.style.backgroundColor = photo.dominantColor ?? '';
    picture.append(img);
    const caption = document.createElement('figcaption'); // textContent: a title is text, never HTML
    caption.textContent = `${photo.title} · ${photo.averageRating ?? 'not rated'} (${photo.ratingCount} ratings)`;
    const figure = document.createElement('figure');
    figure.append(picture, caption);
    list.append(figure);
  }
}
