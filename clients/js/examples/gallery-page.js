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
    // prettier-ignore
    const img = Object.assign(document.createElement('img'), { src: photo.thumbnailURL, alt: photo.title, loading: 'lazy',
      srcset: `${photo.thumbnailURL} 400w, ${photo.fullSizeURL} 1600w`, sizes: '(max-width: 800px) 100vw, 33vw' });
    const caption = document.createElement('figcaption'); // textContent: a title is text, never HTML
    caption.textContent = `${photo.title} · ${photo.averageRating ?? 'not rated'} (${photo.ratingCount} ratings)`;
    const figure = document.createElement('figure');
    figure.append(img, caption);
    list.append(figure);
  }
}
