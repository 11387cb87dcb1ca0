// The image store's public surface (see SEAMS.md): the store, archives, CLI data, references.
export { ImageStore, type ImageStoreOptions, type KeepSet, type LayerDesc, type IngestRequest } from './store.js';
export { loadArchive, loadDirectory, saveArchive, writeOciLayout } from './archive.js';
export { imageList, imageInspect, imageRemove, imagePrune, imageRows, type ImageRow } from './commands.js';
export { parseReference, normalizeName, familiarName, formatReference, type ImageReference } from './reference.js';
export { packDirectory, type PackOptions } from './pack.js';
export { pullImage, type PullOptions } from './registry/pull.js';
export { validateDocument, parseDocument, kindOfMediaType, type DocumentKind } from './validate.js';
